// What a frame holds, and the operations whose meaning depends on it:
//
//   byte mode         4096 real bytes per frame; hashed with XXH3-64, compared byte by byte,
//                     compressed with LZ4.
//   fingerprint mode  a 64-bit content seed per frame, kept in its metadata hash field (no frame
//                     bytes at all). Two frames are equal when their seeds are; the seed is its own
//                     hash; a page reads back as the seed's content (content.ts); its LZ4 size is
//                     that of the seed's content, computed when it is compressed. Raw bytes (images,
//                     byte-range writes) cannot be stored and are refused.
//
// Everything else (refcounts, the sharing table, caches, swap slots, counters) is the same code in
// both modes, so the same seeded scenario gives the same counters.

import { PAGE_BYTES, ZIP_SLOT_BYTES } from "./layout";
import { framePtr, frameHash, setFrameHash, fingerprintMode } from "./frames";
import { xxh3Page } from "./hash";
import { pagesEqual, pageIsZero } from "./compare";
import { fillFromSeed } from "./content";
import { lz4CompressBlock } from "./lz4";

/** Test hook: every hash is ANDed with this mask, so tests can force collisions. */
let hashMask: u64 = u64.MAX_VALUE;
/** The (masked) hash of the zero page: a page with this hash is checked for being all zeros. */
let zeroPageHash: u64 = 0;
let scratchPage: usize = 0;

export function setContentScratch(page: usize): void {
  scratchPage = page;
}

export function setHashMask(mask: u64, zeroPagePtr: usize): void {
  hashMask = mask;
  zeroPageHash = fingerprintMode() ? 0 : xxh3Page(zeroPagePtr) & mask;
}

/** The sharing-table key of a frame in the table (its masked content hash). */
@inline export function tableKeyOf(mpn: u32): u64 {
  return fingerprintMode() ? frameHash(mpn) & hashMask : frameHash(mpn);
}

/** Computes a frame's content hash and stores it (in byte mode; a fingerprint is its own hash). */
@inline export function hashFrame(mpn: u32): u64 {
  if (fingerprintMode()) return frameHash(mpn) & hashMask;
  const hash = xxh3Page(framePtr(mpn)) & hashMask;
  setFrameHash(mpn, hash);
  return hash;
}

/** True if the frame (whose hash was just computed) holds only zeros. */
@inline export function frameIsZero(mpn: u32, hash: u64): bool {
  if (fingerprintMode()) return frameHash(mpn) == 0;
  return hash == zeroPageHash && pageIsZero(framePtr(mpn));
}

@inline export function framesEqual(a: u32, b: u32): bool {
  return fingerprintMode() ? frameHash(a) == frameHash(b) : pagesEqual(framePtr(a), framePtr(b));
}

/** Writes `seed`'s content into a frame. */
@inline export function fillFrame(mpn: u32, seed: u64): void {
  if (fingerprintMode()) setFrameHash(mpn, seed);
  else fillFromSeed(framePtr(mpn), seed);
}

/** Zeroes a frame (first touch); `knownZero` frames (never used) are left as they are. */
@inline export function zeroFrame(mpn: u32, knownZero: bool): void {
  if (fingerprintMode()) setFrameHash(mpn, 0);
  else if (!knownZero) memory.fill(framePtr(mpn), 0, PAGE_BYTES);
}

@inline export function copyFrame(dst: u32, src: u32): void {
  if (fingerprintMode()) setFrameHash(dst, frameHash(src));
  else memory.copy(framePtr(dst), framePtr(src), PAGE_BYTES);
}

/** The page's bytes into `dst` (4096 bytes): the frame's, or the fingerprint's content. */
@inline export function readFrame(mpn: u32, dst: usize): void {
  if (fingerprintMode()) fillFromSeed(dst, frameHash(mpn));
  else memory.copy(dst, framePtr(mpn), PAGE_BYTES);
}

/**
 * Moves a frame's content to swap staging: 4096 bytes, or in fingerprint mode the 8-byte
 * fingerprint at the start of the staging page.
 */
@inline export function frameToStaging(mpn: u32, dst: usize): void {
  if (fingerprintMode()) store<u64>(dst, frameHash(mpn));
  else memory.copy(dst, framePtr(mpn), PAGE_BYTES);
}

@inline export function stagingToFrame(src: usize, mpn: u32): void {
  if (fingerprintMode()) setFrameHash(mpn, load<u64>(src));
  else memory.copy(framePtr(mpn), src, PAGE_BYTES);
}

/**
 * LZ4-compresses the frame's content into `block` (at most ZIP_SLOT_BYTES); returns the block size,
 * or 0 if it does not fit a slot. In fingerprint mode the content is materialised first, so the size
 * is exactly what byte mode would get.
 */
export function compressFrame(mpn: u32, block: usize): i32 {
  let source: usize;
  if (fingerprintMode()) {
    fillFromSeed(scratchPage, frameHash(mpn));
    source = scratchPage;
  } else {
    source = framePtr(mpn);
  }
  return lz4CompressBlock(source, <i32>PAGE_BYTES, block, <i32>ZIP_SLOT_BYTES);
}
