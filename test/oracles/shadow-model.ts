// Oracle: what each guest page reads as, and nothing else. A plain model of guest-visible memory:
// per VM a map GPN -> 4096 bytes (absent = zeros) and the set of ballooned GPNs. It knows nothing
// of frames, sharing, copy-on-write, compression or swap: whatever the core does underneath, every
// page must read back exactly as this model says.
//
// Semantics modelled:
//   - writes (whole page, seed fill, byte range, image load) replace bytes; untouched pages are zeros;
//   - inflate: the balloon takes the page; its content is discarded (reads zeros while ballooned);
//   - deflate: the page comes back to the guest as zeros;
//   - guest accesses (touch, write) to a ballooned page are refused and change nothing.
// Besides content, it keeps a three-valued "accessed since cleared" bit per page, for activity
// sampling: "yes" after a guest access, "no" after clearAccessed (and for pages never accessed),
// "unknown" after a host operation that moves the page (compress, swap-out/in, inflate, deflate),
// whose effect on the bit is the host's business.
import { contentOfSeed } from "./content-seed.ts";

export const PAGE_BYTES = 4096;
const ZERO_PAGE = new Uint8Array(PAGE_BYTES);

export type AccessedState = "yes" | "no" | "unknown";

interface VmShadow {
  readonly pages: number;
  readonly content: Map<number, Uint8Array>;
  readonly ballooned: Set<number>;
  readonly accessed: Map<number, AccessedState>;
}

export class ShadowModel {
  private readonly vms: VmShadow[] = [];

  addVm(pages: number): number {
    this.vms.push({ pages, content: new Map(), ballooned: new Set(), accessed: new Map() });
    return this.vms.length - 1;
  }

  get vmCount(): number {
    return this.vms.length;
  }

  pages(vm: number): number {
    return this.vm(vm).pages;
  }

  /** The bytes (vm, gpn) must read as. Do not modify the result. */
  read(vm: number, gpn: number): Uint8Array {
    const shadow = this.vm(vm);
    this.check(shadow, gpn);
    return shadow.content.get(gpn) ?? ZERO_PAGE;
  }

  isBallooned(vm: number, gpn: number): boolean {
    const shadow = this.vm(vm);
    this.check(shadow, gpn);
    return shadow.ballooned.has(gpn);
  }

  balloonedCount(vm: number): number {
    return this.vm(vm).ballooned.size;
  }

  accessed(vm: number, gpn: number): AccessedState {
    return this.vm(vm).accessed.get(gpn) ?? "no";
  }

  /** A guest write of a whole page. Throws if the page is ballooned (the caller checks first). */
  writePage(vm: number, gpn: number, bytes: Uint8Array): void {
    if (bytes.length !== PAGE_BYTES) throw new Error(`model: page of ${bytes.length} bytes`);
    const shadow = this.guestAccess(vm, gpn);
    if (bytes.every((b) => b === 0)) shadow.content.delete(gpn);
    else shadow.content.set(gpn, bytes.slice());
  }

  writeSeed(vm: number, gpn: number, seed: bigint): void {
    this.writePage(vm, gpn, contentOfSeed(seed));
  }

  /** A guest write of `bytes` at `offset`; the rest of the page keeps its bytes. */
  writeBytes(vm: number, gpn: number, offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > PAGE_BYTES) throw new Error("model: byte range past the page");
    if (bytes.length === 0) return; // no access at all
    const page = this.read(vm, gpn).slice();
    page.set(bytes, offset);
    this.writePage(vm, gpn, page);
  }

  /** A guest read access: content unchanged. */
  touch(vm: number, gpn: number): void {
    this.guestAccess(vm, gpn);
  }

  /** A guest write whose bytes are not modelled: content unchanged. */
  touchWrite(vm: number, gpn: number): void {
    this.guestAccess(vm, gpn);
  }

  /** The balloon takes the page. Returns false (and changes nothing) if it already had it. */
  inflate(vm: number, gpn: number): boolean {
    const shadow = this.vm(vm);
    this.check(shadow, gpn);
    if (shadow.ballooned.has(gpn)) return false;
    shadow.ballooned.add(gpn);
    shadow.content.delete(gpn);
    shadow.accessed.set(gpn, "unknown");
    return true;
  }

  /** The balloon gives the page back, reading as zeros. Returns false if it was not ballooned. */
  deflate(vm: number, gpn: number): boolean {
    const shadow = this.vm(vm);
    this.check(shadow, gpn);
    if (!shadow.ballooned.delete(gpn)) return false;
    shadow.content.delete(gpn);
    shadow.accessed.set(gpn, "unknown");
    return true;
  }

  clearAccessed(vm: number, gpn: number): void {
    this.vm(vm).accessed.set(gpn, "no");
  }

  /** A host operation moved the page (compress, swap): its accessed bit is no longer predicted. */
  hostMoved(vm: number, gpn: number): void {
    this.vm(vm).accessed.set(gpn, "unknown");
  }

  /** A deep copy, to compare against after an operation that must change nothing. */
  clone(): ShadowModel {
    const copy = new ShadowModel();
    for (const shadow of this.vms) {
      copy.vms.push({
        pages: shadow.pages,
        content: new Map(shadow.content),
        ballooned: new Set(shadow.ballooned),
        accessed: new Map(shadow.accessed),
      });
    }
    return copy;
  }

  private guestAccess(vm: number, gpn: number): VmShadow {
    const shadow = this.vm(vm);
    this.check(shadow, gpn);
    if (shadow.ballooned.has(gpn)) throw new Error(`model: vm ${vm} page ${gpn} is ballooned; a guest access must be refused`);
    shadow.accessed.set(gpn, "yes");
    return shadow;
  }

  private vm(vm: number): VmShadow {
    const shadow = this.vms[vm];
    if (!shadow) throw new Error(`model: no vm ${vm}`);
    return shadow;
  }

  private check(shadow: VmShadow, gpn: number): void {
    if (!Number.isInteger(gpn) || gpn < 0 || gpn >= shadow.pages) throw new Error(`model: gpn ${gpn} out of range`);
  }
}
