// I/O page remapping (paper section 6.2): devices reach only low machine memory directly, so a
// guest I/O on a page backed by a high frame goes through a bounce-buffer copy. The host counts
// copies per page and moves pages that are hot for I/O into low frames, after which their I/O
// needs no copy.
import type { Machine } from "../core/machine.ts";
import { Status } from "../core/abi.ts";

export interface IoCounters {
  /** Guest I/Os on pages in high memory: each cost a bounce-buffer copy. */
  bounceCopies: number;
  /** Pages moved into low memory. */
  remaps: number;
  /** I/Os on remapped pages: copies that no longer happen. */
  copiesAvoided: number;
}

export class IoRemapper {
  readonly counters: IoCounters = { bounceCopies: 0, remaps: 0, copiesAvoided: 0 };
  private readonly copiesPerPage = new Map<number, number>();
  private readonly remapped = new Set<number>();

  constructor(
    private readonly machine: Machine,
    private readonly hotCopies: number,
  ) {}

  /** A guest I/O on each page of `gpns` of `vm` (pages must be resident; untouched ones are touched). */
  io(vm: number, gpns: ArrayLike<number>): void {
    this.machine.touch(vm, gpns);
    for (let i = 0; i < gpns.length; i++) {
      const gpn = gpns[i] ?? 0;
      const info = this.machine.pageInfo(vm, gpn);
      if (info.state !== "private" && info.state !== "shared") continue;
      const key = vm * 0x1_0000_0000 + gpn;
      if (info.index < this.machine.lowFrames) {
        if (this.remapped.has(key)) this.counters.copiesAvoided++;
        continue;
      }
      this.counters.bounceCopies++;
      const copies = (this.copiesPerPage.get(key) ?? 0) + 1;
      this.copiesPerPage.set(key, copies);
      if (copies > this.hotCopies && info.state === "private") {
        if (this.machine.moveToLowMemory(vm, [gpn]).statuses[0] === Status.ok) {
          this.counters.remaps++;
          this.remapped.add(key);
          this.copiesPerPage.delete(key);
        }
      }
    }
  }
}
