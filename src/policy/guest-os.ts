// The guest OS of one VM, as the hypervisor cannot see it: applications hold virtual pages (VPNs)
// backed by guest physical pages (GPNs); the guest keeps its own free list (freed GPNs stay backed
// on the host: the host never learns they are free); the balloon driver takes GPNs from the free
// list first and makes the guest page out its least recently used pages (a CLOCK over resident
// pages) to its own swap device when the free list is empty. Page content is a 64-bit content
// seed per VPN, so the model also knows what every guest page must read back as.
//
// Double paging: when the guest pages out a page that the host has already swapped or compressed,
// the host must bring it back first (the guest reads it to write it to its swap device): counted.
import type { Machine } from "../core/machine.ts";
import { PageState, Status } from "../core/abi.ts";
import { OutOfFramesError } from "../core/errors.ts";
import type { Random } from "../sim/random.ts";

const FREE = -1;
const BALLOON = -2;
const PAGED_OUT = -1;
const KIND_WRITE = 0;
const KIND_PAGE_IN = 1;

interface TouchBatch {
  readGpns: Uint32Array;
  writeGpns: Uint32Array;
  writeVpns: Uint32Array;
  writeKinds: Uint8Array;
  writeLow: Uint32Array;
  writeHigh: Uint32Array;
  oldLow: Uint32Array;
  oldHigh: Uint32Array;
}

export interface GuestCounters {
  /** Pages the guest wrote to its own swap device (balloon pressure). */
  pageOuts: number;
  pageIns: number;
  /** Guest page-outs of pages the host had swapped or compressed. */
  doublePaging: number;
  /** Allocations, touches or page-ins that found no machine frame and waited. */
  stalls: number;
}

/** What a step of guest work achieved; `stalled` means machine memory ran out midway. */
export interface GuestStep {
  readonly done: number;
  readonly stalled: boolean;
}

export class GuestOs {
  readonly pages: number;
  readonly counters: GuestCounters = { pageOuts: 0, pageIns: 0, doublePaging: 0, stalls: 0 };
  /** Per GPN: the VPN using it, FREE or BALLOON. */
  private readonly gpnOwner: Int32Array;
  private readonly freeStack: Uint32Array;
  private freeCount: number;
  private readonly balloonStack: Uint32Array;
  private balloonCount = 0;
  /** Per VPN: its GPN or PAGED_OUT; content seed words; CLOCK reference bit. */
  private vpnGpn: Int32Array;
  private vpnSeedLow: Uint32Array;
  private vpnSeedHigh: Uint32Array;
  private vpnReferenced: Uint8Array;
  /** Per VPN: 1 if its content is raw bytes (a loaded image page) rather than a content seed. */
  private vpnBytes: Uint8Array;
  /** The bytes of raw-content pages while they are in the guest's swap. */
  private readonly swappedBytes = new Map<number, Uint8Array>();
  /** Live VPNs in allocation order (a stack: frees take the most recent). */
  private live: Uint32Array;
  private liveCount = 0;
  private readonly freeVpns: number[] = [];
  private nextVpn = 0;
  private clockHand = 0;
  /** Distinct GPNs touched since the last `resetTouched` (the true active set). */
  private readonly touched: Uint8Array;
  private touchedCount = 0;

  constructor(
    private readonly machine: Machine,
    readonly vm: number,
  ) {
    this.pages = machine.vmPages(vm);
    this.gpnOwner = new Int32Array(this.pages).fill(FREE);
    this.freeStack = new Uint32Array(this.pages);
    // Hand out GPN 0, 1, 2, ... first.
    for (let i = 0; i < this.pages; i++) this.freeStack[i] = this.pages - 1 - i;
    this.freeCount = this.pages;
    this.balloonStack = new Uint32Array(this.pages);
    const vpnCapacity = 1024;
    this.vpnGpn = new Int32Array(vpnCapacity);
    this.vpnSeedLow = new Uint32Array(vpnCapacity);
    this.vpnSeedHigh = new Uint32Array(vpnCapacity);
    this.vpnReferenced = new Uint8Array(vpnCapacity);
    this.vpnBytes = new Uint8Array(vpnCapacity);
    this.live = new Uint32Array(vpnCapacity);
    this.touched = new Uint8Array(this.pages);
  }

  /** Pages the applications hold (resident or in the guest's swap). */
  get allocatedPages(): number {
    return this.liveCount;
  }

  get freePages(): number {
    return this.freeCount;
  }

  get balloonPages(): number {
    return this.balloonCount;
  }

  /** Resident application pages (allocated and not in the guest's swap). */
  get residentPages(): number {
    return this.pages - this.freeCount - this.balloonCount;
  }

  get swappedPages(): number {
    return this.liveCount - this.residentPages;
  }

  /** Distinct guest pages touched since `resetTouched`: the true active set. */
  get touchedPages(): number {
    return this.touchedCount;
  }

  resetTouched(): void {
    this.touched.fill(0);
    this.touchedCount = 0;
  }

  /** The content seed that guest page `gpn` must read back as, or undefined if it holds no app data. */
  expectedSeed(gpn: number): bigint | undefined {
    const vpn = this.gpnOwner[gpn] ?? FREE;
    if (vpn < 0 || this.vpnBytes[vpn] === 1) return undefined;
    return (BigInt(this.vpnSeedHigh[vpn] ?? 0) << 32n) | BigInt(this.vpnSeedLow[vpn] ?? 0);
  }

  /** Allocates `count` application pages with the given content seeds (words). */
  allocate(count: number, seedLow: ArrayLike<number>, seedHigh: ArrayLike<number>): GuestStep {
    const gpns = new Uint32Array(count);
    const vpns = new Uint32Array(count);
    const low = new Uint32Array(count);
    const high = new Uint32Array(count);
    let n = 0;
    for (; n < count; n++) {
      const gpn = this.takeFreeGpn();
      if (gpn < 0) break;
      const vpn = this.newVpn();
      vpns[n] = vpn;
      gpns[n] = gpn;
      low[n] = seedLow[n] ?? 0;
      high[n] = seedHigh[n] ?? 0;
      this.vpnSeedLow[vpn] = low[n] ?? 0;
      this.vpnSeedHigh[vpn] = high[n] ?? 0;
      this.bind(vpn, gpn);
      this.live[this.liveCount++] = vpn;
    }
    const result = this.machine.writeSeedWords(this.vm, gpns.subarray(0, n), low.subarray(0, n), high.subarray(0, n));
    for (let i = 0; i < result.completed; i++) this.markTouched(gpns[i] ?? 0);
    if (result.stop !== "none") {
      // Undo the allocations the host could not back (newest first): they wait for the next step.
      for (let i = n - 1; i >= result.completed; i--) {
        this.liveCount--;
        this.release(vpns[i] ?? 0);
      }
      this.counters.stalls++;
      return { done: result.completed, stalled: true };
    }
    return { done: n, stalled: n < count };
  }

  /**
   * Takes the first `count` GPNs, already written by the host (a memory image loaded as boot
   * content), as application pages whose content is raw bytes.
   */
  adoptLoadedPages(count: number): void {
    for (let i = 0; i < count; i++) {
      const gpn = this.takeFreeGpn();
      if (gpn !== i) throw new Error(`adoptLoadedPages: the guest's first free page is ${gpn}, expected ${i} (adopt before any allocation)`);
      const vpn = this.newVpn();
      this.vpnBytes[vpn] = 1;
      this.bind(vpn, gpn);
      this.live[this.liveCount++] = vpn;
      this.markTouched(gpn);
    }
  }

  /** Frees the `count` most recently allocated application pages (their GPNs stay backed). */
  free(count: number): number {
    let n = 0;
    while (n < count && this.liveCount > 0) {
      const vpn = this.live[--this.liveCount] ?? 0;
      this.release(vpn);
      n++;
    }
    return n;
  }

  /**
   * Touches `count` pages of the `workingSet` most recently allocated live pages, skewed towards the
   * newest (index = window x u^skew, u uniform: skew 1 is uniform, 2 makes the newest fifth take
   * about 45% of touches); a fraction `writeFraction` are writes with fresh content from
   * `nextSeed`. Pages in the guest's swap are paged in first (a guest write of their content). All
   * host work goes out in two batches; what the host could not back (no free frame) is undone.
   */
  touch(count: number, workingSet: number, writeFraction: number, random: Random, nextSeed: (out: Uint32Array) => void, skew = 2): GuestStep {
    const window = Math.min(workingSet, this.liveCount);
    if (window <= 0 || count <= 0) return { done: 0, stalled: false };
    const b = this.batch(count);
    let reads = 0;
    let writes = 0;
    const seed = new Uint32Array(2);
    const bytesPageIns = new Map<number, number>();
    const top = this.liveCount - 1;
    for (let i = 0; i < count; i++) {
      const vpn = this.live[top - Math.floor(window * Math.pow(random.nextFloat(), skew))] ?? 0;
      const write = random.nextFloat() < writeFraction;
      let gpn = this.vpnGpn[vpn] ?? PAGED_OUT;
      if (gpn === PAGED_OUT || write) {
        let kind = KIND_WRITE;
        if (gpn === PAGED_OUT) {
          gpn = this.takeFreeGpn();
          if (gpn < 0) break;
          this.bind(vpn, gpn);
          this.counters.pageIns++;
          kind = KIND_PAGE_IN;
          if (this.vpnBytes[vpn] === 1 && !write) {
            // Raw bytes come back after the batch (a later owner of the GPN wins, as it should).
            bytesPageIns.set(vpn, gpn);
            this.vpnReferenced[vpn] = 1;
            this.markTouched(gpn);
            continue;
          }
        }
        if (write && this.vpnBytes[vpn] === 1) {
          // New content replaces the raw bytes.
          this.vpnBytes[vpn] = 0;
          this.swappedBytes.delete(vpn);
          bytesPageIns.delete(vpn);
        }
        b.oldLow[writes] = this.vpnSeedLow[vpn] ?? 0;
        b.oldHigh[writes] = this.vpnSeedHigh[vpn] ?? 0;
        if (write) {
          nextSeed(seed);
          this.vpnSeedLow[vpn] = seed[0] ?? 0;
          this.vpnSeedHigh[vpn] = seed[1] ?? 0;
        }
        b.writeGpns[writes] = gpn;
        b.writeVpns[writes] = vpn;
        b.writeKinds[writes] = kind;
        b.writeLow[writes] = this.vpnSeedLow[vpn] ?? 0;
        b.writeHigh[writes] = this.vpnSeedHigh[vpn] ?? 0;
        writes++;
      } else {
        b.readGpns[reads++] = gpn;
      }
      this.vpnReferenced[vpn] = 1;
      this.markTouched(gpn);
    }
    const readResult = this.machine.touch(this.vm, b.readGpns.subarray(0, reads));
    const writeResult = this.machine.writeSeedWords(this.vm, b.writeGpns.subarray(0, writes), b.writeLow.subarray(0, writes), b.writeHigh.subarray(0, writes));
    // What the host could not back did not happen (newest first, so repeated pages end right).
    for (let i = writes - 1; i >= writeResult.completed; i--) {
      const vpn = b.writeVpns[i] ?? 0;
      this.vpnSeedLow[vpn] = b.oldLow[i] ?? 0;
      this.vpnSeedHigh[vpn] = b.oldHigh[i] ?? 0;
      if (b.writeKinds[i] === KIND_PAGE_IN && this.vpnGpn[vpn] === (b.writeGpns[i] ?? -2)) {
        const gpn = b.writeGpns[i] ?? 0;
        this.vpnGpn[vpn] = PAGED_OUT;
        this.gpnOwner[gpn] = FREE;
        this.freeStack[this.freeCount++] = gpn;
        this.counters.pageIns--;
      }
    }
    const stalled = readResult.stop !== "none" || writeResult.stop !== "none";
    if (stalled) this.counters.stalls++;
    return { done: count, stalled };
  }

  private batchBuffers: TouchBatch | undefined;

  private batch(count: number): TouchBatch {
    if (!this.batchBuffers || this.batchBuffers.readGpns.length < count) {
      const n = Math.max(count, 1024);
      this.batchBuffers = {
        readGpns: new Uint32Array(n), writeGpns: new Uint32Array(n), writeVpns: new Uint32Array(n),
        writeKinds: new Uint8Array(n), writeLow: new Uint32Array(n), writeHigh: new Uint32Array(n),
        oldLow: new Uint32Array(n), oldHigh: new Uint32Array(n),
      };
    }
    return this.batchBuffers;
  }

  /** Gives up to `count` GPNs to the balloon driver: free pages first, then LRU page-outs. */
  giveToBalloon(count: number): number[] {
    const out: number[] = [];
    while (out.length < count) {
      let gpn = this.freeCount > 0 ? (this.freeStack[--this.freeCount] ?? 0) : -1;
      if (gpn < 0) {
        gpn = this.pageOutOne();
        if (gpn < 0) break;
        this.freeCount--; // pageOutOne pushed it on the free list
      }
      this.gpnOwner[gpn] = BALLOON;
      this.balloonStack[this.balloonCount++] = gpn;
      out.push(gpn);
    }
    return out;
  }

  /** Takes up to `count` GPNs back from the balloon driver onto the free list. */
  takeFromBalloon(count: number): number[] {
    const out: number[] = [];
    while (out.length < count && this.balloonCount > 0) {
      const gpn = this.balloonStack[--this.balloonCount] ?? 0;
      this.gpnOwner[gpn] = FREE;
      this.freeStack[this.freeCount++] = gpn;
      out.push(gpn);
    }
    return out;
  }

  /** Checks every guest page against the machine: app pages read as their seeds' content. */
  forEachExpected(visit: (gpn: number, seed: bigint | undefined, owner: "app" | "free" | "balloon") => void): void {
    for (let gpn = 0; gpn < this.pages; gpn++) {
      const owner = this.gpnOwner[gpn] ?? FREE;
      visit(gpn, this.expectedSeed(gpn), owner >= 0 ? "app" : owner === BALLOON ? "balloon" : "free");
    }
  }

  // ---- internals ----------------------------------------------------------------------------

  private markTouched(gpn: number): void {
    if (this.touched[gpn] === 0) {
      this.touched[gpn] = 1;
      this.touchedCount++;
    }
  }

  private newVpn(): number {
    const reused = this.freeVpns.pop();
    if (reused !== undefined) return reused;
    const vpn = this.nextVpn++;
    if (vpn >= this.vpnGpn.length) this.growVpnArrays(this.vpnGpn.length * 2);
    return vpn;
  }

  private growVpnArrays(capacity: number): void {
    const grow = <T extends Int32Array | Uint32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.vpnGpn = grow(this.vpnGpn, (n) => new Int32Array(n));
    this.vpnSeedLow = grow(this.vpnSeedLow, (n) => new Uint32Array(n));
    this.vpnSeedHigh = grow(this.vpnSeedHigh, (n) => new Uint32Array(n));
    this.vpnReferenced = grow(this.vpnReferenced, (n) => new Uint8Array(n));
    this.vpnBytes = grow(this.vpnBytes, (n) => new Uint8Array(n));
    this.live = grow(this.live, (n) => new Uint32Array(n));
  }

  private bind(vpn: number, gpn: number): void {
    this.vpnGpn[vpn] = gpn;
    this.gpnOwner[gpn] = vpn;
    this.vpnReferenced[vpn] = 1;
  }

  /** Drops a VPN: its GPN (if resident) goes back on the guest free list, still backed. */
  private release(vpn: number): void {
    const gpn = this.vpnGpn[vpn] ?? PAGED_OUT;
    if (gpn >= 0) {
      this.gpnOwner[gpn] = FREE;
      this.freeStack[this.freeCount++] = gpn;
    }
    this.vpnGpn[vpn] = PAGED_OUT;
    this.vpnBytes[vpn] = 0;
    this.swappedBytes.delete(vpn);
    this.freeVpns.push(vpn);
  }

  /** A free GPN for an allocation or page-in, paging out the LRU page if none is free. */
  private takeFreeGpn(): number {
    if (this.freeCount > 0) return this.freeStack[--this.freeCount] ?? -1;
    const gpn = this.pageOutOne();
    if (gpn < 0) return -1;
    this.freeCount--;
    return gpn;
  }

  /**
   * Pages out the least recently used resident page (CLOCK). The guest reads the page to write it
   * to its swap device, so a page the host swapped or compressed is brought back first: double
   * paging. Returns its GPN (now on the free list) or -1 if nothing is resident.
   */
  private pageOutOne(): number {
    if (this.liveCount === 0) return -1;
    for (let scanned = 0; scanned < 2 * this.liveCount + 1; scanned++) {
      if (this.clockHand >= this.liveCount) this.clockHand = 0;
      const vpn = this.live[this.clockHand++] ?? 0;
      const gpn = this.vpnGpn[vpn] ?? PAGED_OUT;
      if (gpn < 0) continue;
      if (this.vpnReferenced[vpn]) {
        this.vpnReferenced[vpn] = 0;
        continue;
      }
      const state = this.machine.pageStateCode(this.vm, gpn);
      if (state === PageState.swapped || state === PageState.compressed) {
        this.counters.doublePaging++;
        const back = this.machine.touch(this.vm, [gpn]);
        if (back.stop !== "none" || back.statuses[0] !== Status.ok) return -1;
      }
      if (this.vpnBytes[vpn] === 1) this.swappedBytes.set(vpn, this.machine.readPage(this.vm, gpn));
      this.vpnGpn[vpn] = PAGED_OUT;
      this.gpnOwner[gpn] = FREE;
      this.freeStack[this.freeCount++] = gpn;
      this.counters.pageOuts++;
      return gpn;
    }
    return -1;
  }

}
