// Transparent page sharing: the scan step, and the orders in which pages are scanned.
//
// One scan step on a private page (paper section 4, Linux mm/ksm.c in spirit):
//   1. hash its 4096 bytes (XXH3-64), unless the frame still holds a valid hash: every write goes
//      through the core and clears it, so a cached hash is exactly as good as re-hashing;
//   2. look the hash up in the global table and compare bytes with every entry of that hash, be it a
//      shared frame (refcount >= 2) or a hint (another private page, refcount 1);
//   3. on equal bytes, map the page to that frame copy-on-write and free its own frame (a hint's
//      page becomes shared too); otherwise record this page as a hint.
// A hint never goes stale: a write to a hinted page removes its entry at once (mapping.ts), which is
// what the paper's re-hash on a hint match checks for. Shared, untouched, compressed, swapped and
// ballooned pages, and pages already hinted, are skipped. Hash collisions (equal hash, different
// bytes) are counted and never share: the byte compare decides.

import { TAG_SHIFT, TAG_PRIVATE, INDEX_MASK, ACCESSED_BIT, STATUS_SKIPPED, STATUS_MERGED, STATUS_HINTED } from "./layout";
import {
  frameFlags, setFrameFlags, frameRefcount, FLAG_HASH_VALID, FLAG_IN_TABLE, FLAG_ZERO, MAX_REFCOUNT,
} from "./frames";
import { tableFind, tableHome, tableMpnAt, tableInsert } from "./table";
import { tableKeyOf, hashFrame, frameIsZero, framesEqual } from "./contents";
import { getEntry, vmPages, vmCount, globalPages, vmOfGlobalPage, vmFirstGlobalPage } from "./vms";
import { unmapFrame, mapShared } from "./mapping";
import {
  vmAdd, hostAdd, VM_ZERO_PAGES, VM_PAGES_SCANNED, VM_SCAN_MERGES, VM_HASHES,
  HOST_HASHES, HOST_HASH_COLLISIONS, HOST_PAGE_COMPARES, HOST_PAGES_SCANNED, HOST_SCAN_MERGES,
} from "./counters";

/**
 * At most this many guest pages map one shared frame (Linux KSM's max_page_sharing): a content
 * with more copies gets a second frame, like KSM's chain of stable nodes. Unlimited by default
 * (up to the refcount field's limit).
 */
let maxPageSharing: u32 = MAX_REFCOUNT;

export function setMaxPageSharing(limit: u32): void {
  maxPageSharing = limit < 2 ? 2 : limit > MAX_REFCOUNT ? MAX_REFCOUNT : limit;
}

/** One scan step on (vm, gpn). Returns STATUS_MERGED, STATUS_HINTED or STATUS_SKIPPED. */
export function scanPage(vm: u32, gpn: u32): u32 {
  const entry = getEntry(vm, gpn);
  vmAdd(vm, VM_PAGES_SCANNED, 1);
  hostAdd(HOST_PAGES_SCANNED, 1);
  if ((entry >>> TAG_SHIFT) != TAG_PRIVATE) return STATUS_SKIPPED;
  const mpn = entry & INDEX_MASK;
  let flags = frameFlags(mpn);
  if (flags & FLAG_IN_TABLE) return STATUS_SKIPPED;
  let hash: u64;
  if (flags & FLAG_HASH_VALID) {
    hash = tableKeyOf(mpn);
  } else {
    hash = hashFrame(mpn);
    flags |= FLAG_HASH_VALID;
    vmAdd(vm, VM_HASHES, 1);
    hostAdd(HOST_HASHES, 1);
    if (frameIsZero(mpn, hash)) {
      flags |= FLAG_ZERO;
      vmAdd(vm, VM_ZERO_PAGES, 1);
    }
    setFrameFlags(mpn, flags);
  }
  let slot = tableFind(hash, tableHome(hash));
  while (slot >= 0) {
    const other = tableMpnAt(<u32>slot);
    if (frameRefcount(other) >= maxPageSharing) {
      slot = tableFind(hash, <u32>slot + 1); // full: look for another frame of this content
      continue;
    }
    hostAdd(HOST_PAGE_COMPARES, 1);
    if (framesEqual(mpn, other)) {
      unmapFrame(vm, gpn, mpn);
      mapShared(vm, gpn, other, entry & ACCESSED_BIT);
      vmAdd(vm, VM_SCAN_MERGES, 1);
      hostAdd(HOST_SCAN_MERGES, 1);
      return STATUS_MERGED;
    }
    hostAdd(HOST_HASH_COLLISIONS, 1);
    slot = tableFind(hash, <u32>slot + 1);
  }
  tableInsert(hash, mpn);
  setFrameFlags(mpn, flags | FLAG_IN_TABLE);
  return STATUS_HINTED;
}

// ---- Scan orders: a seeded bijective shuffle of an index space, without a shuffled array ----
//
// A keyed bijection of [0, 2^b), the smallest power of two >= n, built from steps that are each
// bijective mod 2^b (multiply by an odd key and add a key, then xor-shift right), with cycle walking
// (an index >= n is permuted again) so that it is a bijection of [0, n). Visiting i = 0 .. n-1 in
// order visits every page exactly once, in a random order fixed by the seed. The domain is below
// 2n, so a position costs at most two rounds on average.

@inline function fmix32(value: u32): u32 {
  let h = value;
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  h ^= h >>> 16;
  return h;
}

let permN: u32 = 0;
let permMask: u32 = 0;
let permShift: u32 = 1;
let permMul0: u32 = 1;
let permMul1: u32 = 1;
let permMul2: u32 = 1;
let permAdd0: u32 = 0;
let permAdd1: u32 = 0;
let permAdd2: u32 = 0;

function preparePermutation(n: u32, seed: u64): void {
  const bits: u32 = n <= 2 ? 1 : 32 - clz<u32>(n - 1);
  permN = n;
  permMask = bits >= 32 ? u32.MAX_VALUE : (<u32>1 << bits) - 1;
  permShift = (bits + 1) >>> 1;
  const k0 = fmix32(<u32>seed ^ 0x9e3779b9);
  const k1 = fmix32(<u32>(seed >>> 32) ^ 0x7f4a7c15);
  permMul0 = fmix32(k0 ^ 0x85ebca6b) | 1;
  permMul1 = fmix32(k1 ^ 0xc2b2ae35) | 1;
  permMul2 = fmix32(k0 + k1) | 1;
  permAdd0 = k0;
  permAdd1 = k1;
  permAdd2 = fmix32(k0 ^ k1 ^ 0x27d4eb2f);
}

@inline function permute(index: u32): u32 {
  const mask = permMask;
  const shift = permShift;
  let x = index;
  do {
    x = (x * permMul0 + permAdd0) & mask;
    x ^= x >>> shift;
    x = (x * permMul1 + permAdd1) & mask;
    x ^= x >>> shift;
    x = (x * permMul2 + permAdd2) & mask;
    x ^= x >>> shift;
  } while (x >= permN);
  return x;
}

/**
 * Scans positions [from, from + count) of the seeded host-wide order over all VMs' pages (VMs in id
 * order, then GPN). Returns how many pages were merged.
 */
export function scanHostOrder(seed: u64, from: u32, count: u32): u32 {
  const total = <u32>globalPages();
  if (total == 0 || vmCount() == 0) return 0;
  preparePermutation(total, seed);
  let end = <u64>from + count;
  if (end > <u64>total) end = <u64>total;
  let merged: u32 = 0;
  for (let i = from; <u64>i < end; i++) {
    const global = permute(i);
    const vm = vmOfGlobalPage(global);
    if (scanPage(vm, global - vmFirstGlobalPage(vm)) == STATUS_MERGED) merged++;
  }
  return merged;
}

/** Scans positions [from, from + count) of the seeded order over one VM's pages. Returns merges. */
export function scanVmOrder(vm: u32, seed: u64, from: u32, count: u32): u32 {
  const pages = vmPages(vm);
  if (pages == 0) return 0;
  preparePermutation(pages, seed);
  let end = <u64>from + count;
  if (end > <u64>pages) end = <u64>pages;
  let merged: u32 = 0;
  for (let i = from; <u64>i < end; i++) {
    if (scanPage(vm, permute(i)) == STATUS_MERGED) merged++;
  }
  return merged;
}

