// Per-VM compression caches. A cache frame is a machine frame split into two 2048-byte slots, each
// holding one page's LZ4 block; a compressed page's pmap entry holds slot = MPN * 2 + half.
// Each VM keeps a doubly linked list of its cache frames that have a free slot, so storing a block
// is O(1); a cache frame whose both slots are empty goes back to the free list at once.

import { NO_FRAME, ZIP_SLOT_BYTES, PAGE_BYTES, STATUS_OK, STATUS_NO_FRAMES, STATUS_CORRUPT } from "./layout";
import {
  metaPtr, framePtr, frameFlags, setFrameFlags, allocZipFrame, releaseFrame,
  META_ZIP_LENGTHS, META_ZIP_VM, META_ZIP_GPNS, META_LIST_PREV, META_LIST_NEXT,
  FLAG_SLOT0_USED, FLAG_SLOT1_USED, FLAG_ON_PARTIAL_LIST,
} from "./frames";
import { zipPartialHead, setZipPartialHead } from "./vms";
import { vmAdd, VM_ZIP_CACHE_FRAMES, VM_ZIP_BYTES } from "./counters";
import { lz4DecompressBlock } from "./lz4";

@inline function slotUsedFlag(half: u32): u32 {
  return half == 0 ? FLAG_SLOT0_USED : FLAG_SLOT1_USED;
}

@inline export function slotPtr(slot: u32): usize {
  return framePtr(slot >>> 1) + <usize>((slot & 1) * ZIP_SLOT_BYTES);
}

@inline export function slotLength(slot: u32): u32 {
  return <u32>load<u16>(metaPtr(slot >>> 1) + META_ZIP_LENGTHS + ((slot & 1) << 1));
}

/** The VM that owns a cache frame. */
@inline export function slotVm(slot: u32): u32 {
  return load<u32>(metaPtr(slot >>> 1) + META_ZIP_VM);
}

/** The guest page whose block is in `slot`. */
@inline export function slotGpn(slot: u32): u32 {
  return load<u32>(metaPtr(slot >>> 1) + META_ZIP_GPNS + ((slot & 1) << 2));
}

function pushPartial(vm: u32, mpn: u32): void {
  const head = zipPartialHead(vm);
  const meta = metaPtr(mpn);
  store<u32>(meta + META_LIST_PREV, NO_FRAME);
  store<u32>(meta + META_LIST_NEXT, head);
  if (head != NO_FRAME) store<u32>(metaPtr(head) + META_LIST_PREV, mpn);
  setZipPartialHead(vm, mpn);
  setFrameFlags(mpn, frameFlags(mpn) | FLAG_ON_PARTIAL_LIST);
}

function unlinkPartial(vm: u32, mpn: u32): void {
  const meta = metaPtr(mpn);
  const prev = load<u32>(meta + META_LIST_PREV);
  const next = load<u32>(meta + META_LIST_NEXT);
  if (prev != NO_FRAME) store<u32>(metaPtr(prev) + META_LIST_NEXT, next);
  else setZipPartialHead(vm, next);
  if (next != NO_FRAME) store<u32>(metaPtr(next) + META_LIST_PREV, prev);
  setFrameFlags(mpn, frameFlags(mpn) & ~FLAG_ON_PARTIAL_LIST);
}

/** True when storing a block for `vm` needs a new cache frame. */
export function needsNewCacheFrame(vm: u32): bool {
  return zipPartialHead(vm) == NO_FRAME;
}

let lastSlotValue: u32 = 0;

/** The slot filled by the last successful `storeBlock`. */
export function lastSlot(): u32 {
  return lastSlotValue;
}

/**
 * Copies an LZ4 block of `length` (<= 2048) bytes from `src` into a free slot of `vm`'s cache, for
 * guest page `gpn`. Returns STATUS_OK (slot in `lastSlot()`) or STATUS_NO_FRAMES.
 */
export function storeBlock(vm: u32, gpn: u32, src: usize, length: u32): u32 {
  let mpn = zipPartialHead(vm);
  if (mpn == NO_FRAME) {
    mpn = allocZipFrame();
    if (mpn == NO_FRAME) return STATUS_NO_FRAMES;
    store<u32>(metaPtr(mpn) + META_ZIP_VM, vm);
    vmAdd(vm, VM_ZIP_CACHE_FRAMES, 1);
    pushPartial(vm, mpn);
  }
  const flags = frameFlags(mpn);
  const half: u32 = (flags & FLAG_SLOT0_USED) ? 1 : 0;
  const slot = (mpn << 1) | half;
  memory.copy(slotPtr(slot), src, length);
  const meta = metaPtr(mpn);
  store<u16>(meta + META_ZIP_LENGTHS + (half << 1), <u16>length);
  store<u32>(meta + META_ZIP_GPNS + (half << 2), gpn);
  const newFlags = flags | slotUsedFlag(half);
  setFrameFlags(mpn, newFlags);
  if ((newFlags & (FLAG_SLOT0_USED | FLAG_SLOT1_USED)) == (FLAG_SLOT0_USED | FLAG_SLOT1_USED)) unlinkPartial(vm, mpn);
  vmAdd(vm, VM_ZIP_BYTES, <i64>length);
  lastSlotValue = slot;
  return STATUS_OK;
}

/** Empties `slot`; frees its cache frame when both slots are empty. */
export function freeSlot(slot: u32): void {
  const mpn = slot >>> 1;
  const half = slot & 1;
  const vm = slotVm(slot);
  vmAdd(vm, VM_ZIP_BYTES, -<i64>slotLength(slot));
  const flags = frameFlags(mpn) & ~slotUsedFlag(half);
  setFrameFlags(mpn, flags);
  if ((flags & (FLAG_SLOT0_USED | FLAG_SLOT1_USED)) == 0) {
    if (flags & FLAG_ON_PARTIAL_LIST) unlinkPartial(vm, mpn);
    releaseFrame(mpn);
    vmAdd(vm, VM_ZIP_CACHE_FRAMES, -1);
  } else if ((flags & FLAG_ON_PARTIAL_LIST) == 0) {
    pushPartial(vm, mpn);
  }
}

/** True when freeing `slot` would free its whole cache frame. */
export function slotIsAlone(slot: u32): bool {
  const other = slotUsedFlag((slot & 1) ^ 1);
  return (frameFlags(slot >>> 1) & other) == 0;
}

/** Decodes `slot` into 4096 bytes at `dst`. STATUS_OK or STATUS_CORRUPT. */
export function decodeSlot(slot: u32, dst: usize): u32 {
  const n = lz4DecompressBlock(slotPtr(slot), <i32>slotLength(slot), dst, <i32>PAGE_BYTES);
  return n == <i32>PAGE_BYTES ? STATUS_OK : STATUS_CORRUPT;
}
