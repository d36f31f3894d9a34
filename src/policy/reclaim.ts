// Host-level reclamation by compression and swapping (hard and low states). The hypervisor knows
// nothing of what the guest values, so victims are random private pages of the VMs above target.
// Compression is tried first: a page whose LZ4 block fits 2 KiB goes to the VM's compression cache
// (at most Mem.MemZipMaxPct of its memory); incompressible pages, and the oldest compressed pages
// when the cache is full, go to the VM's swap file.
import type { Machine } from "../core/machine.ts";
import { PageState, Status } from "../core/abi.ts";
import type { Random } from "../sim/random.ts";

export interface ReclaimCounters {
  compressed: number;
  swappedOut: number;
  /** Compressed pages moved on to the swap file because the cache was full. */
  evictedFromCache: number;
}

export class VmReclaimer {
  readonly counters: ReclaimCounters = { compressed: 0, swappedOut: 0, evictedFromCache: 0 };
  /** GPNs in the order they were compressed (a page may have left the cache since). */
  private compressedFifo: number[] = [];
  private fifoHead = 0;
  readonly maxCacheFrames: number;

  constructor(
    private readonly machine: Machine,
    private readonly vm: number,
    memZipMaxPct: number,
  ) {
    this.maxCacheFrames = Math.floor((machine.vmPages(vm) * memZipMaxPct) / 100);
  }

  /**
   * Takes up to `pages` random private pages of the VM out of machine memory. Returns how many
   * pages left memory (compressed or swapped).
   */
  reclaim(pages: number, random: Random): number {
    const vmPages = this.machine.vmPages(this.vm);
    let reclaimed = 0;
    let attempts = 0;
    const maxAttempts = pages * 8 + 64;
    while (reclaimed < pages && attempts < maxAttempts) {
      attempts++;
      const gpn = random.nextInt(vmPages);
      if (this.machine.pageStateCode(this.vm, gpn) !== PageState.private) continue;
      if (this.reclaimPage(gpn)) reclaimed++;
    }
    return reclaimed;
  }

  private reclaimPage(gpn: number): boolean {
    if (this.maxCacheFrames > 0) {
      if (this.machine.vmCounter(this.vm, "zipCacheFrames") >= this.maxCacheFrames) this.evictOldest();
      const status = this.machine.compress(this.vm, [gpn]).statuses[0];
      if (status === Status.ok) {
        this.compressedFifo.push(gpn);
        this.counters.compressed++;
        return true;
      }
    }
    const status = this.machine.swapOut(this.vm, [gpn]).statuses[0];
    if (status === Status.ok) {
      this.counters.swappedOut++;
      return true;
    }
    return false;
  }

  /** Swaps out the oldest page still in the compression cache. */
  private evictOldest(): void {
    while (this.fifoHead < this.compressedFifo.length) {
      const gpn = this.compressedFifo[this.fifoHead++] ?? 0;
      if (this.machine.pageStateCode(this.vm, gpn) !== PageState.compressed) continue;
      if (this.machine.swapOut(this.vm, [gpn]).statuses[0] === Status.ok) this.counters.evictedFromCache++;
      break;
    }
    if (this.fifoHead > 4096 && this.fifoHead * 2 > this.compressedFifo.length) {
      this.compressedFifo = this.compressedFifo.slice(this.fifoHead);
      this.fifoHead = 0;
    }
  }
}
