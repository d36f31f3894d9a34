// Swap-slot numbers for one VM: the lowest never-used slot, or the most recently released one.
// Memory grows with the slots in use, not with the swap file's size (a VM of 16 GiB has 4 million
// slots; a full free list of them would cost 16 MiB per VM before anything is swapped).

export class SlotAllocator {
  private released = new Uint32Array(64);
  private releasedCount = 0;
  private nextFresh = 0;

  constructor(readonly slots: number) {}

  get usedSlots(): number {
    return this.nextFresh - this.releasedCount;
  }

  /** A free slot, or -1 when all are in use. */
  allocate(): number {
    if (this.releasedCount > 0) return this.released[--this.releasedCount] ?? -1;
    return this.nextFresh < this.slots ? this.nextFresh++ : -1;
  }

  release(slot: number): void {
    if (this.releasedCount >= this.released.length) {
      const grown = new Uint32Array(this.released.length * 2);
      grown.set(this.released);
      this.released = grown;
    }
    this.released[this.releasedCount++] = slot;
  }
}
