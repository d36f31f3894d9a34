// Where a VM's swapped pages go: a real file (SwapFile, Node) or memory (MemorySwap, anywhere).

export interface SwapStore {
  /** The file's path, or `memory:<name>`. */
  readonly path: string;
  readonly slots: number;
  readonly usedSlots: number;
  /** A free slot, or -1 when full. */
  allocate(): number;
  release(slot: number): void;
  write(slot: number, bytes: Uint8Array): void;
  read(slot: number, into: Uint8Array): void;
  dispose(): void;
}
