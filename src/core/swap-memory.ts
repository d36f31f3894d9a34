// A VM's swap "file" held in memory: for browsers, and for library users who want no files. Slots
// are allocated like SwapFile's (lowest number first); each slot's 4 KiB lives in a Map.
import { PAGE_BYTES } from "./abi.ts";
import { SwapIoError } from "./errors.ts";
import { SlottedSwap } from "./swap-store.ts";

export class MemorySwap extends SlottedSwap {
  readonly path: string;
  private readonly pages = new Map<number, Uint8Array>();
  private disposed = false;

  constructor(name: string, slots: number) {
    super(slots);
    this.path = `memory:${name}`;
  }

  protected override forget(slot: number): void {
    this.pages.delete(slot);
  }

  write(slot: number, bytes: Uint8Array): void {
    if (this.disposed) throw new SwapIoError(`swap ${this.path} is closed`);
    for (let at = 0; at + PAGE_BYTES <= bytes.length; at += PAGE_BYTES) this.pages.set(slot + at / PAGE_BYTES, bytes.slice(at, at + PAGE_BYTES));
  }

  read(slot: number, into: Uint8Array): void {
    const page = this.pages.get(slot);
    if (!page) throw new SwapIoError(`swap ${this.path}: slot ${slot} holds no page`);
    into.set(page);
  }

  dispose(): void {
    this.disposed = true;
    this.pages.clear();
  }
}

/**
 * The swap of a fingerprint machine: a swapped page is its 8-byte fingerprint (the first 8 bytes
 * of the staging page), so a slot costs 8 bytes. Slots are handed out lowest first, so the array
 * grows with the highest slot in use.
 */
export class FingerprintSwap extends SlottedSwap {
  readonly path: string;
  private values = new BigUint64Array(0);

  constructor(name: string, slots: number) {
    super(slots);
    this.path = `memory:${name}`;
  }

  write(slot: number, bytes: Uint8Array): void {
    const pages = Math.floor(bytes.length / PAGE_BYTES);
    const last = slot + pages - 1;
    if (last >= this.values.length) {
      const grown = new BigUint64Array(Math.min(this.slots, Math.max(1024, (last + 1) * 2)));
      grown.set(this.values);
      this.values = grown;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let k = 0; k < pages; k++) this.values[slot + k] = view.getBigUint64(k * PAGE_BYTES, true);
  }

  read(slot: number, into: Uint8Array): void {
    new DataView(into.buffer, into.byteOffset, 8).setBigUint64(0, this.values[slot] ?? 0n, true);
  }

  dispose(): void {
    this.values = new BigUint64Array(0);
  }
}
