// Machine memory: the frames (4096 bytes each, 4096-aligned in linear memory, in byte mode) and
// their metadata, 16 bytes per frame, with two intrusive free lists (low frames below the I/O
// boundary, high frames above).
//
// Frame metadata, 16 bytes per MPN:
//
//   offset  guest frame (KIND_GUEST)            cache frame (KIND_ZIP)     free frame
//   0       u64 content hash (if HASH_VALID);   u32 zip record index       u32 next free MPN
//           in fingerprint mode the fingerprint
//   8       u32 XOR of mappers' global page     -                          -
//           indices (the reverse map)
//   12      u32 refcount (low 26 bits) | flags (high 6 bits), for every kind
//
// A mapper key is the page's host-wide index (its VM's first global page + GPN). The XOR of all
// mappers' keys costs 4 bytes and gives the reverse map exactly when it matters: at refcount 1 it
// *is* the one remaining mapper, so a shared frame that drops to one reference can turn that page
// back to private without scanning any pmap.
//
// In fingerprint mode (machine option) a frame has no bytes: its content is the 64-bit content
// seed (the fingerprint) kept in the hash field, and there is no frame region at all, so a host of
// hundreds of GiB fits the 4 GiB WASM memory. contents.ts holds the operations that differ.

import { PAGE_SHIFT, NO_FRAME } from "./layout";
import { reserveRegion } from "./alloc";
import {
  hostAdd, HOST_FRAMES_FREE, HOST_FRAMES_LOW_FREE, HOST_FRAMES_GUEST, HOST_FRAMES_ZIP,
} from "./counters";

export const FRAME_META_BYTES: u32 = 16;
export const META_HASH: u32 = 0;
export const META_NEXT_FREE: u32 = 0;
export const META_ZIP_RECORD: u32 = 0;
export const META_MAPPERS: u32 = 8;
export const META_WORD: u32 = 12;

export const REFCOUNT_BITS: u32 = 26;
export const REFCOUNT_MASK: u32 = (1 << REFCOUNT_BITS) - 1;
/** The most pages one frame can back; the scan treats a frame this full like one at maxPageSharing. */
export const MAX_REFCOUNT: u32 = REFCOUNT_MASK;

// Flags live in the top 6 bits of the meta word.
export const KIND_SHIFT: u32 = REFCOUNT_BITS;
export const KIND_MASK: u32 = 3 << KIND_SHIFT;
export const KIND_FREE: u32 = 0;
export const KIND_GUEST: u32 = 1 << KIND_SHIFT;
export const KIND_ZIP: u32 = 2 << KIND_SHIFT;
/** The hash field holds the hash of the current content (cleared by every write). */
export const FLAG_HASH_VALID: u32 = 1 << 28;
/** The sharing table has an entry (hash -> this MPN) for this frame. */
export const FLAG_IN_TABLE: u32 = 1 << 29;
/** The content was verified to be all zeros (when hashed). */
export const FLAG_ZERO: u32 = 1 << 30;
/**
 * A free frame that was used before (its bytes are whatever was last there). Free frames without
 * it have never been used: fresh linear memory, known to be zero, and not yet backed by the OS.
 */
export const FLAG_USED_BEFORE: u32 = 1 << 31;
export const FLAGS_MASK: u32 = ~REFCOUNT_MASK;

let metaBase: usize = 0;
let framesBase: usize = 0;
let frameCount: u32 = 0;
let lowFrameCount: u32 = 0;
let freeHighHead: u32 = NO_FRAME;
let freeLowHead: u32 = NO_FRAME;
let fingerprints: bool = false;

@inline export function metaPtr(mpn: u32): usize {
  return metaBase + (<usize>mpn << 4);
}

/** The frame's bytes (byte mode only). */
@inline export function framePtr(mpn: u32): usize {
  return framesBase + (<usize>mpn << PAGE_SHIFT);
}

@inline export function fingerprintMode(): bool {
  return fingerprints;
}

@inline function metaWord(mpn: u32): u32 {
  return load<u32>(metaPtr(mpn) + META_WORD);
}

/** Flags and kind of a frame (the top 6 bits of its meta word). */
@inline export function frameFlags(mpn: u32): u32 {
  return metaWord(mpn) & FLAGS_MASK;
}

@inline export function setFrameFlags(mpn: u32, flags: u32): void {
  const p = metaPtr(mpn) + META_WORD;
  store<u32>(p, (load<u32>(p) & REFCOUNT_MASK) | (flags & FLAGS_MASK));
}

@inline export function frameRefcount(mpn: u32): u32 {
  return metaWord(mpn) & REFCOUNT_MASK;
}

@inline export function setFrameRefcount(mpn: u32, refcount: u32): void {
  const p = metaPtr(mpn) + META_WORD;
  store<u32>(p, (load<u32>(p) & FLAGS_MASK) | refcount);
}

@inline export function frameHash(mpn: u32): u64 {
  return load<u64>(metaPtr(mpn) + META_HASH);
}

@inline export function setFrameHash(mpn: u32, hash: u64): void {
  store<u64>(metaPtr(mpn) + META_HASH, hash);
}

@inline export function frameMappers(mpn: u32): u32 {
  return load<u32>(metaPtr(mpn) + META_MAPPERS);
}

@inline export function xorFrameMappers(mpn: u32, key: u32): void {
  const p = metaPtr(mpn) + META_MAPPERS;
  store<u32>(p, load<u32>(p) ^ key);
}

export function totalFrames(): u32 {
  return frameCount;
}

export function lowFrames(): u32 {
  return lowFrameCount;
}

@inline export function isLowFrame(mpn: u32): bool {
  return mpn < lowFrameCount;
}

/**
 * Reserves metadata (and, in byte mode, the frames) for `count` frames, the first `lowCount` of them
 * low memory. Frames are handed out lowest MPN first; never-used frames are not on the free lists
 * but above a watermark, so a machine of millions of frames starts at once and the metadata of
 * frames never used is never touched (fresh memory: zero, not backed by the OS). False if it
 * cannot fit.
 */
export function reserveFrames(count: u32, lowCount: u32, fingerprintContent: bool): bool {
  fingerprints = fingerprintContent;
  metaBase = reserveRegion(<u64>count * FRAME_META_BYTES, 64);
  if (metaBase == 0) return false;
  if (!fingerprintContent) {
    framesBase = reserveRegion(<u64>count << PAGE_SHIFT, 4096);
    if (framesBase == 0) return false;
  }
  frameCount = count;
  lowFrameCount = lowCount < count ? lowCount : count;
  freeHighHead = NO_FRAME;
  freeLowHead = NO_FRAME;
  nextFreshLow = 0;
  nextFreshHigh = lowFrameCount;
  hostAdd(HOST_FRAMES_FREE, <i64>count);
  hostAdd(HOST_FRAMES_LOW_FREE, <i64>lowFrameCount);
  return true;
}

/** The lowest never-used frame of each kind of memory (frames from there on are free and zero). */
let nextFreshLow: u32 = 0;
let nextFreshHigh: u32 = 0;

@inline function pushFree(mpn: u32, usedBefore: u32): void {
  const meta = metaPtr(mpn);
  store<u32>(meta + META_WORD, KIND_FREE | usedBefore);
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

/** A released frame (most recently freed first), else the next never-used one. */
@inline function popHigh(): u32 {
  let mpn = freeHighHead;
  if (mpn != NO_FRAME) freeHighHead = load<u32>(metaPtr(mpn) + META_NEXT_FREE);
  else if (nextFreshHigh < frameCount) mpn = nextFreshHigh++;
  else return NO_FRAME;
  hostAdd(HOST_FRAMES_FREE, -1);
  return mpn;
}

@inline function popLow(): u32 {
  let mpn = freeLowHead;
  if (mpn != NO_FRAME) freeLowHead = load<u32>(metaPtr(mpn) + META_NEXT_FREE);
  else if (nextFreshLow < lowFrameCount) mpn = nextFreshLow++;
  else return NO_FRAME;
  hostAdd(HOST_FRAMES_FREE, -1);
  hostAdd(HOST_FRAMES_LOW_FREE, -1);
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
  lastAllocFresh = (load<u32>(meta + META_WORD) & FLAG_USED_BEFORE) == 0;
  store<u64>(meta + META_HASH, 0);
  store<u32>(meta + META_MAPPERS, 0);
  store<u32>(meta + META_WORD, KIND_GUEST | 1);
  hostAdd(HOST_FRAMES_GUEST, 1);
  return mpn;
}

/** A frame for the compression cache; the caller sets its zip record. */
export function allocZipFrame(): u32 {
  const mpn = takeFrame(false);
  if (mpn == NO_FRAME) return NO_FRAME;
  const meta = metaPtr(mpn);
  store<u64>(meta + META_HASH, 0);
  store<u32>(meta + META_MAPPERS, 0);
  store<u32>(meta + META_WORD, KIND_ZIP);
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
  let n: u32 = (lowFrameCount - nextFreshLow) + (frameCount - nextFreshHigh);
  for (let mpn = freeHighHead; mpn != NO_FRAME; mpn = load<u32>(metaPtr(mpn) + META_NEXT_FREE)) n++;
  for (let mpn = freeLowHead; mpn != NO_FRAME; mpn = load<u32>(metaPtr(mpn) + META_NEXT_FREE)) n++;
  return n;
}
