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
    const victims = this.pickVictims(pages, random);
    if (victims.length === 0) return 0;
    let reclaimed = 0;
    let toSwap: number[] = victims;
    if (this.maxCacheFrames > 0) {
      // Compression first, all victims in one batch; what does not fit a slot goes to swap.
      const { statuses } = this.machine.compress(this.vm, victims);
      toSwap = [];
      victims.forEach((gpn, i) => {
        if (statuses[i] === Status.ok) {
          this.compressedFifo.push(gpn);
          this.counters.compressed++;
          reclaimed++;
        } else if (statuses[i] === Status.incompressible) {
          toSwap.push(gpn);
        }
      });
      this.evictOverflow();
    }
    if (toSwap.length > 0) {
      const { statuses } = this.machine.swapOut(this.vm, toSwap);
      for (const status of statuses) {
        if (status === Status.ok) {
          this.counters.swappedOut++;
          reclaimed++;
        }
      }
    }
    return reclaimed;
  }

  /** Up to `pages` distinct random private pages of the VM. */
  private pickVictims(pages: number, random: Random): number[] {
    const vmPages = this.machine.vmPages(this.vm);
    const picked = new Set<number>();
    const maxAttempts = pages * 8 + 64;
    for (let attempt = 0; picked.size < pages && attempt < maxAttempts; attempt++) {
      const gpn = random.nextInt(vmPages);
      if (!picked.has(gpn) && this.machine.pageStateCode(this.vm, gpn) === PageState.private) picked.add(gpn);
    }
    return [...picked];
  }

  /** While the cache holds more than Mem.MemZipMaxPct allows, its oldest pages go to the swap file. */
  private evictOverflow(): void {
    for (;;) {
      const excessFrames = this.machine.vmCounter(this.vm, "zipCacheFrames") - this.maxCacheFrames;
      if (excessFrames <= 0) return;
      const oldest: number[] = [];
      while (oldest.length < excessFrames * 2 && this.fifoHead < this.compressedFifo.length) {
        const gpn = this.compressedFifo[this.fifoHead++] ?? 0;
        if (this.machine.pageStateCode(this.vm, gpn) === PageState.compressed) oldest.push(gpn);
      }
      if (oldest.length === 0) return;
      for (const status of this.machine.swapOut(this.vm, oldest).statuses) if (status === Status.ok) this.counters.evictedFromCache++;
      if (this.fifoHead > 4096 && this.fifoHead * 2 > this.compressedFifo.length) {
        this.compressedFifo = this.compressedFifo.slice(this.fifoHead);
        this.fifoHead = 0;
      }
    }
  }
}
