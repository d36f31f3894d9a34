// A VM's swap "file" held in memory: for browsers, and for library users who want no files. Slots
// are allocated like SwapFile's (lowest number first); each slot's 4 KiB lives in a Map.
import { PAGE_BYTES } from "./abi.ts";
import { SwapIoError } from "./errors.ts";
import type { SwapStore } from "./swap-store.ts";

export class MemorySwap implements SwapStore {
  readonly path: string;
  readonly slots: number;
  private readonly pages = new Map<number, Uint8Array>();
  private readonly freeSlots: Uint32Array;
  private freeCount: number;
  private disposed = false;

  constructor(name: string, slots: number) {
    this.path = `memory:${name}`;
    this.slots = slots;
    this.freeSlots = new Uint32Array(slots);
    for (let i = 0; i < slots; i++) this.freeSlots[i] = slots - 1 - i;
    this.freeCount = slots;
  }

  get usedSlots(): number {
    return this.slots - this.freeCount;
  }

  allocate(): number {
    if (this.freeCount === 0) return -1;
    this.freeCount--;
    return this.freeSlots[this.freeCount] ?? -1;
  }

  release(slot: number): void {
    this.pages.delete(slot);
    this.freeSlots[this.freeCount++] = slot;
  }

  write(slot: number, bytes: Uint8Array): void {
    if (this.disposed) throw new SwapIoError(`swap ${this.path} is closed`);
    this.pages.set(slot, bytes.slice(0, PAGE_BYTES));
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
export class FingerprintSwap implements SwapStore {
  readonly path: string;
  readonly slots: number;
  private values = new BigUint64Array(0);
  private readonly freeSlots: Uint32Array;
  private freeCount: number;

  constructor(name: string, slots: number) {
    this.path = `memory:${name}`;
    this.slots = slots;
    this.freeSlots = new Uint32Array(slots);
    for (let i = 0; i < slots; i++) this.freeSlots[i] = slots - 1 - i;
    this.freeCount = slots;
  }

  get usedSlots(): number {
    return this.slots - this.freeCount;
  }

  allocate(): number {
    if (this.freeCount === 0) return -1;
    this.freeCount--;
    return this.freeSlots[this.freeCount] ?? -1;
  }

  release(slot: number): void {
    this.freeSlots[this.freeCount++] = slot;
  }

  write(slot: number, bytes: Uint8Array): void {
    if (slot >= this.values.length) {
      const grown = new BigUint64Array(Math.min(this.slots, Math.max(1024, (slot + 1) * 2)));
      grown.set(this.values);
      this.values = grown;
    }
    this.values[slot] = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  }

  read(slot: number, into: Uint8Array): void {
    new DataView(into.buffer, into.byteOffset, 8).setBigUint64(0, this.values[slot] ?? 0n, true);
  }

  dispose(): void {
    this.values = new BigUint64Array(0);
  }
}
