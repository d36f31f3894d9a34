// Machine memory: the frames themselves (4096 bytes each, 4096-aligned in linear memory) and their
// metadata, with two intrusive free lists (low frames below the I/O boundary, high frames above).
//
// Frame metadata, 32 bytes per MPN:
//
//   offset  guest frame (KIND_GUEST)        cache frame (KIND_ZIP)           free frame
//   0       u64 content hash (if HASH_VALID) u16 len0 | u16 len1 | u32 vm    -
//   8       u64 XOR of mapper keys          u32 gpn in slot 0 | u32 slot 1   u32 next free MPN
//   16      u32 refcount                    -                                -
//   20      u32 flags (kind and bits below, for every kind)
//   24      -                               u32 prev / u32 next in the VM's list of cache frames
//                                           with a free slot
//
// A mapper key is (vm << 32) | gpn. The XOR of all mappers' keys costs 8 bytes and gives the reverse
// map exactly when it matters: at refcount 1 it *is* the one remaining mapper, so a shared frame
// that drops to one reference can turn that page back to private without scanning any pmap.

import { PAGE_SHIFT, NO_FRAME } from "./layout";
import { reserveRegion } from "./alloc";
import {
  hostAdd, HOST_FRAMES_FREE, HOST_FRAMES_LOW_FREE, HOST_FRAMES_GUEST, HOST_FRAMES_ZIP,
} from "./counters";

export const FRAME_META_BYTES: u32 = 32;
export const META_HASH: u32 = 0;
export const META_MAPPERS: u32 = 8;
export const META_NEXT_FREE: u32 = 8;
export const META_ZIP_LENGTHS: u32 = 0;
export const META_ZIP_VM: u32 = 4;
export const META_ZIP_GPNS: u32 = 8;
export const META_REFCOUNT: u32 = 16;
export const META_FLAGS: u32 = 20;
export const META_LIST_PREV: u32 = 24;
export const META_LIST_NEXT: u32 = 28;

export const KIND_MASK: u32 = 3;
export const KIND_FREE: u32 = 0;
export const KIND_GUEST: u32 = 1;
export const KIND_ZIP: u32 = 2;
/** The hash field holds the hash of the current content (cleared by every write). */
export const FLAG_HASH_VALID: u32 = 1 << 2;
/** The sharing table has an entry (hash -> this MPN) for this frame. */
export const FLAG_IN_TABLE: u32 = 1 << 3;
/** The content was verified to be all zeros (when hashed). */
export const FLAG_ZERO: u32 = 1 << 4;
export const FLAG_SLOT0_USED: u32 = 1 << 5;
export const FLAG_SLOT1_USED: u32 = 1 << 6;
/** The cache frame is on its VM's list of cache frames with a free slot. */
export const FLAG_ON_PARTIAL_LIST: u32 = 1 << 7;
/**
 * A free frame that was used before (its bytes are whatever was last there). Free frames without
 * it have never been used: fresh linear memory, known to be zero, and not yet backed by the OS.
 */
export const FLAG_USED_BEFORE: u32 = 1 << 8;

let metaBase: usize = 0;
let framesBase: usize = 0;
let frameCount: u32 = 0;
let lowFrameCount: u32 = 0;
let freeHighHead: u32 = NO_FRAME;
let freeLowHead: u32 = NO_FRAME;

@inline export function metaPtr(mpn: u32): usize {
  return metaBase + (<usize>mpn << 5);
}

@inline export function framePtr(mpn: u32): usize {
  return framesBase + (<usize>mpn << PAGE_SHIFT);
}

@inline export function frameFlags(mpn: u32): u32 {
  return load<u32>(metaPtr(mpn) + META_FLAGS);
}

@inline export function setFrameFlags(mpn: u32, flags: u32): void {
  store<u32>(metaPtr(mpn) + META_FLAGS, flags);
}

@inline export function frameRefcount(mpn: u32): u32 {
  return load<u32>(metaPtr(mpn) + META_REFCOUNT);
}

@inline export function setFrameRefcount(mpn: u32, refcount: u32): void {
  store<u32>(metaPtr(mpn) + META_REFCOUNT, refcount);
}

@inline export function frameHash(mpn: u32): u64 {
  return load<u64>(metaPtr(mpn) + META_HASH);
}

@inline export function setFrameHash(mpn: u32, hash: u64): void {
  store<u64>(metaPtr(mpn) + META_HASH, hash);
}

@inline export function frameMappers(mpn: u32): u64 {
  return load<u64>(metaPtr(mpn) + META_MAPPERS);
}

@inline export function xorFrameMappers(mpn: u32, key: u64): void {
  const p = metaPtr(mpn) + META_MAPPERS;
  store<u64>(p, load<u64>(p) ^ key);
}

@inline export function mapperKey(vm: u32, gpn: u32): u64 {
  return (<u64>vm << 32) | <u64>gpn;
}

export function totalFrames(): u32 {
  return frameCount;
}

export function lowFrames(): u32 {
  return lowFrameCount;
}

export function frameRegionBase(): usize {
  return framesBase;
}

export function frameMetaBase(): usize {
  return metaBase;
}

@inline export function isLowFrame(mpn: u32): bool {
  return mpn < lowFrameCount;
}

/**
 * Reserves metadata and frames for `count` frames, the first `lowCount` of them low memory, and
 * puts them all on the free lists so that allocation hands out ascending MPNs. False if it cannot fit.
 */
export function reserveFrames(count: u32, lowCount: u32): bool {
  metaBase = reserveRegion(<u64>count * FRAME_META_BYTES, 64);
  if (metaBase == 0) return false;
  framesBase = reserveRegion(<u64>count << PAGE_SHIFT, 4096);
  if (framesBase == 0) return false;
  frameCount = count;
  lowFrameCount = lowCount < count ? lowCount : count;
  freeHighHead = NO_FRAME;
  freeLowHead = NO_FRAME;
  for (let mpn = count; mpn > 0; mpn--) pushFree(mpn - 1, 0);
  return true;
}

@inline function pushFree(mpn: u32, usedBefore: u32): void {
  const meta = metaPtr(mpn);
  store<u32>(meta + META_FLAGS, KIND_FREE | usedBefore);
  store<u32>(meta + META_REFCOUNT, 0);
  if (mpn < lowFrameCount) {
    store<u32>(meta + META_NEXT_FREE, freeLowHead);
    freeLowHead = mpn;
    hostAdd(HOST_FRAMES_LOW_FREE, 1);
  } else {
    store<u32>(meta + META_NEXT_FREE, freeHighHead);
    freeHighHead = mpn;
  }
  hostAdd(HOST_FRAMES_FREE, 1);
}

@inline function popHigh(): u32 {
  const mpn = freeHighHead;
  if (mpn != NO_FRAME) {
    freeHighHead = load<u32>(metaPtr(mpn) + META_NEXT_FREE);
    hostAdd(HOST_FRAMES_FREE, -1);
  }
  return mpn;
}

@inline function popLow(): u32 {
  const mpn = freeLowHead;
  if (mpn != NO_FRAME) {
    freeLowHead = load<u32>(metaPtr(mpn) + META_NEXT_FREE);
    hostAdd(HOST_FRAMES_FREE, -1);
    hostAdd(HOST_FRAMES_LOW_FREE, -1);
  }
  return mpn;
}

/** Takes a frame, high memory first (low memory is kept for I/O). NO_FRAME if none is free. */
function takeFrame(lowOnly: bool): u32 {
  if (lowOnly) return popLow();
  const mpn = popHigh();
  return mpn != NO_FRAME ? mpn : popLow();
}

let lastAllocFresh: bool = false;

/** True if the frame the last allocation returned had never been used: its bytes are all zero. */
export function lastAllocatedFrameIsZero(): bool {
  return lastAllocFresh;
}

/** A frame for guest content: refcount 1, no mappers yet, content undefined (see lastAllocatedFrameIsZero). */
export function allocGuestFrame(lowOnly: bool): u32 {
  const mpn = takeFrame(lowOnly);
  if (mpn == NO_FRAME) return NO_FRAME;
  const meta = metaPtr(mpn);
  lastAllocFresh = (load<u32>(meta + META_FLAGS) & FLAG_USED_BEFORE) == 0;
  store<u64>(meta + META_HASH, 0);
  store<u64>(meta + META_MAPPERS, 0);
  store<u32>(meta + META_REFCOUNT, 1);
  store<u32>(meta + META_FLAGS, KIND_GUEST);
  hostAdd(HOST_FRAMES_GUEST, 1);
  return mpn;
}

/** A frame for the compression cache, both slots free. */
export function allocZipFrame(): u32 {
  const mpn = takeFrame(false);
  if (mpn == NO_FRAME) return NO_FRAME;
  const meta = metaPtr(mpn);
  store<u64>(meta + META_HASH, 0);
  store<u64>(meta + META_MAPPERS, 0);
  store<u32>(meta + META_REFCOUNT, 0);
  store<u32>(meta + META_FLAGS, KIND_ZIP);
  store<u32>(meta + META_LIST_PREV, NO_FRAME);
  store<u32>(meta + META_LIST_NEXT, NO_FRAME);
  hostAdd(HOST_FRAMES_ZIP, 1);
  return mpn;
}

/** Returns a frame to its free list. The caller has already removed it from the sharing table. */
export function releaseFrame(mpn: u32): void {
  const kind = frameFlags(mpn) & KIND_MASK;
  if (kind == KIND_GUEST) hostAdd(HOST_FRAMES_GUEST, -1);
  else if (kind == KIND_ZIP) hostAdd(HOST_FRAMES_ZIP, -1);
  pushFree(mpn, FLAG_USED_BEFORE);
}

export function freeFrameCount(): u32 {
  let n: u32 = 0;
  for (let mpn = freeHighHead; mpn != NO_FRAME; mpn = load<u32>(metaPtr(mpn) + META_NEXT_FREE)) n++;
  for (let mpn = freeLowHead; mpn != NO_FRAME; mpn = load<u32>(metaPtr(mpn) + META_NEXT_FREE)) n++;
  return n;
}
