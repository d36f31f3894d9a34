// Where a VM's swapped pages go: a real file (SwapFile, Node) or memory (MemorySwap, anywhere).
import { SlotAllocator } from "./slot-allocator.ts";

export interface SwapStore {
  /** The file's path, or `memory:<name>`. */
  readonly path: string;
  readonly slots: number;
  readonly usedSlots: number;
  /** A free slot, or -1 when full. */
  allocate(): number;
  release(slot: number): void;
  /** Writes `bytes` (one or more whole pages) to `slot` and the slots after it. */
  write(slot: number, bytes: Uint8Array): void;
  read(slot: number, into: Uint8Array): void;
  dispose(): void;
}


/** Slot bookkeeping shared by every store: lowest never-used slot first, then released ones. */
export abstract class SlottedSwap implements SwapStore {
  abstract readonly path: string;
  private readonly slotAllocator: SlotAllocator;

  constructor(readonly slots: number) {
    this.slotAllocator = new SlotAllocator(slots);
  }

  get usedSlots(): number {
    return this.slotAllocator.usedSlots;
  }

  allocate(): number {
    return this.slotAllocator.allocate();
  }

  release(slot: number): void {
    this.slotAllocator.release(slot);
    this.forget(slot);
  }

  /** Drops what a released slot held (stores that keep pages in memory). */
  protected forget(_slot: number): void {}

  abstract write(slot: number, bytes: Uint8Array): void;
  abstract read(slot: number, into: Uint8Array): void;
  abstract dispose(): void;
}
