// Per-VM compression caches. A cache frame is a machine frame split into two 2048-byte slots, each
// holding one page's LZ4 block (in fingerprint mode: the page's fingerprint and its block size); a
// compressed page's pmap entry holds slot = MPN * 2 + half. Each VM keeps a doubly linked list of
// its cache frames that have a free slot, so storing a block is O(1); a cache frame whose both
// slots are empty goes back to the free list at once.
//
// What a cache frame needs beyond its 16-byte frame metadata lives in a zip record (a pool that
// grows as caches grow, so frames that never hold a cache pay nothing for it):
//
//   zip record, 48 bytes: u32 vm | u16 len0 | u16 len1 | u32 gpn0 | u32 gpn1 | u32 prev frame |
//                         u32 next frame | u64 fingerprint0 | u64 fingerprint1 | u32 flags | u32 MPN

import { NO_FRAME, ZIP_SLOT_BYTES, PAGE_BYTES, STATUS_OK, STATUS_NO_FRAMES, STATUS_CORRUPT } from "./layout";
import { reserveRegion } from "./alloc";
import { metaPtr, framePtr, allocZipFrame, releaseFrame, fingerprintMode, META_ZIP_RECORD } from "./frames";
import { zipPartialHead, setZipPartialHead } from "./vms";
import { vmAdd, VM_ZIP_CACHE_FRAMES, VM_ZIP_BYTES } from "./counters";
import { lz4DecompressBlock } from "./lz4";
import { fillFromSeed } from "./content";

const RECORD_BYTES: u32 = 48;
const REC_VM: u32 = 0;
const REC_LENGTHS: u32 = 4;
const REC_GPNS: u32 = 8;
const REC_PREV: u32 = 16;
const REC_NEXT: u32 = 20;
const REC_FINGERPRINTS: u32 = 24;
const REC_FLAGS: u32 = 40;
const REC_MPN: u32 = 44;
const REC_NEXT_FREE: u32 = 0;

const SLOT0_USED: u32 = 1;
const SLOT1_USED: u32 = 2;
const ON_PARTIAL_LIST: u32 = 4;

let recordsBase: usize = 0;
let recordCapacity: u32 = 0;
let recordsUsed: u32 = 0;
let freeRecordHead: u32 = NO_FRAME;

@inline function record(index: u32): usize {
  return recordsBase + <usize>index * RECORD_BYTES;
}

@inline function recordOf(mpn: u32): usize {
  return record(load<u32>(metaPtr(mpn) + META_ZIP_RECORD));
}

/** A free zip record, growing the pool (by doubling) when needed. NO_FRAME if memory is full. */
function takeRecord(): u32 {
  if (freeRecordHead != NO_FRAME) {
    const index = freeRecordHead;
    freeRecordHead = load<u32>(record(index) + REC_NEXT_FREE);
    return index;
  }
  if (recordsUsed >= recordCapacity) {
    const capacity = recordCapacity == 0 ? 1024 : recordCapacity * 2;
    const base = reserveRegion(<u64>capacity * RECORD_BYTES, 64);
    if (base == 0) return NO_FRAME;
    if (recordCapacity > 0) memory.copy(base, recordsBase, <usize>recordCapacity * RECORD_BYTES);
    recordsBase = base;
    recordCapacity = capacity;
  }
  return recordsUsed++;
}

function giveBackRecord(index: u32): void {
  store<u32>(record(index) + REC_NEXT_FREE, freeRecordHead);
  freeRecordHead = index;
}

@inline function slotUsedFlag(half: u32): u32 {
  return half == 0 ? SLOT0_USED : SLOT1_USED;
}

@inline function flagsOf(mpn: u32): u32 {
  return load<u32>(recordOf(mpn) + REC_FLAGS);
}

@inline function setFlagsOf(mpn: u32, flags: u32): void {
  store<u32>(recordOf(mpn) + REC_FLAGS, flags);
}

/** The slot's bytes (byte mode). */
@inline export function slotPtr(slot: u32): usize {
  return framePtr(slot >>> 1) + <usize>((slot & 1) * ZIP_SLOT_BYTES);
}

@inline export function slotLength(slot: u32): u32 {
  return <u32>load<u16>(recordOf(slot >>> 1) + REC_LENGTHS + ((slot & 1) << 1));
}

/** The VM that owns a cache frame. */
@inline export function slotVm(slot: u32): u32 {
  return load<u32>(recordOf(slot >>> 1) + REC_VM);
}

/** The guest page whose block is in `slot`. */
@inline export function slotGpn(slot: u32): u32 {
  return load<u32>(recordOf(slot >>> 1) + REC_GPNS + ((slot & 1) << 2));
}

/** True if `slot` holds a block. */
export function slotInUse(slot: u32): bool {
  return (flagsOf(slot >>> 1) & slotUsedFlag(slot & 1)) != 0;
}

/** How many slots of cache frame `mpn` are in use (0, 1 or 2). */
export function cacheFrameSlotsUsed(mpn: u32): u32 {
  const flags = flagsOf(mpn);
  return (flags & SLOT0_USED ? 1 : 0) + (flags & SLOT1_USED ? 1 : 0);
}

/** The VM of cache frame `mpn`. */
export function cacheFrameVm(mpn: u32): u32 {
  return load<u32>(recordOf(mpn) + REC_VM);
}

function pushPartial(vm: u32, mpn: u32): void {
  const head = zipPartialHead(vm);
  const rec = recordOf(mpn);
  store<u32>(rec + REC_PREV, NO_FRAME);
  store<u32>(rec + REC_NEXT, head);
  if (head != NO_FRAME) store<u32>(recordOf(head) + REC_PREV, mpn);
  setZipPartialHead(vm, mpn);
  setFlagsOf(mpn, flagsOf(mpn) | ON_PARTIAL_LIST);
}

function unlinkPartial(vm: u32, mpn: u32): void {
  const rec = recordOf(mpn);
  const prev = load<u32>(rec + REC_PREV);
  const next = load<u32>(rec + REC_NEXT);
  if (prev != NO_FRAME) store<u32>(recordOf(prev) + REC_NEXT, next);
  else setZipPartialHead(vm, next);
  if (next != NO_FRAME) store<u32>(recordOf(next) + REC_PREV, prev);
  setFlagsOf(mpn, flagsOf(mpn) & ~ON_PARTIAL_LIST);
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
 * Stores page `gpn`'s compressed form in a free slot of `vm`'s cache: `length` (<= 2048) bytes of
 * LZ4 block from `src` in byte mode, or its `fingerprint` in fingerprint mode. Returns STATUS_OK
 * (slot in `lastSlot()`) or STATUS_NO_FRAMES.
 */
export function storeBlock(vm: u32, gpn: u32, src: usize, length: u32, fingerprint: u64): u32 {
  let mpn = zipPartialHead(vm);
  if (mpn == NO_FRAME) {
    const index = takeRecord();
    if (index == NO_FRAME) return STATUS_NO_FRAMES;
    mpn = allocZipFrame();
    if (mpn == NO_FRAME) {
      giveBackRecord(index);
      return STATUS_NO_FRAMES;
    }
    store<u32>(metaPtr(mpn) + META_ZIP_RECORD, index);
    const rec = record(index);
    memory.fill(rec, 0, RECORD_BYTES);
    store<u32>(rec + REC_VM, vm);
    store<u32>(rec + REC_MPN, mpn);
    vmAdd(vm, VM_ZIP_CACHE_FRAMES, 1);
    pushPartial(vm, mpn);
  }
  const flags = flagsOf(mpn);
  const half: u32 = (flags & SLOT0_USED) ? 1 : 0;
  const slot = (mpn << 1) | half;
  const rec = recordOf(mpn);
  if (fingerprintMode()) store<u64>(rec + REC_FINGERPRINTS + (half << 3), fingerprint);
  else memory.copy(slotPtr(slot), src, length);
  store<u16>(rec + REC_LENGTHS + (half << 1), <u16>length);
  store<u32>(rec + REC_GPNS + (half << 2), gpn);
  const newFlags = flags | slotUsedFlag(half);
  setFlagsOf(mpn, newFlags);
  if ((newFlags & (SLOT0_USED | SLOT1_USED)) == (SLOT0_USED | SLOT1_USED)) unlinkPartial(vm, mpn);
  vmAdd(vm, VM_ZIP_BYTES, <i64>length);
  lastSlotValue = slot;
  return STATUS_OK;
}

/** Empties `slot`; frees its cache frame (and zip record) when both slots are empty. */
export function freeSlot(slot: u32): void {
  const mpn = slot >>> 1;
  const half = slot & 1;
  const vm = slotVm(slot);
  vmAdd(vm, VM_ZIP_BYTES, -<i64>slotLength(slot));
  const flags = flagsOf(mpn) & ~slotUsedFlag(half);
  setFlagsOf(mpn, flags);
  if ((flags & (SLOT0_USED | SLOT1_USED)) == 0) {
    if (flags & ON_PARTIAL_LIST) unlinkPartial(vm, mpn);
    giveBackRecord(load<u32>(metaPtr(mpn) + META_ZIP_RECORD));
    releaseFrame(mpn);
    vmAdd(vm, VM_ZIP_CACHE_FRAMES, -1);
  } else if ((flags & ON_PARTIAL_LIST) == 0) {
    pushPartial(vm, mpn);
  }
}

/** True when freeing `slot` would free its whole cache frame. */
export function slotIsAlone(slot: u32): bool {
  return (flagsOf(slot >>> 1) & slotUsedFlag((slot & 1) ^ 1)) == 0;
}

/** The fingerprint stored in `slot` (fingerprint mode). */
export function slotFingerprint(slot: u32): u64 {
  return load<u64>(recordOf(slot >>> 1) + REC_FINGERPRINTS + ((slot & 1) << 3));
}

/** Decodes `slot` into 4096 bytes at `dst`. STATUS_OK or STATUS_CORRUPT. */
export function decodeSlot(slot: u32, dst: usize): u32 {
  if (fingerprintMode()) {
    fillFromSeed(dst, slotFingerprint(slot));
    return STATUS_OK;
  }
  const n = lz4DecompressBlock(slotPtr(slot), <i32>slotLength(slot), dst, <i32>PAGE_BYTES);
  return n == <i32>PAGE_BYTES ? STATUS_OK : STATUS_CORRUPT;
}
