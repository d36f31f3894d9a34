// Creating a machine (laying out every region once) and auditing it: `auditMachine` recomputes
// every counter, refcount, reverse map and table entry from the pmaps and compares, so tests can
// check after each step that the incremental bookkeeping is exact.

import {
  PAGE_BYTES, TAG_COUNT, TAG_PRIVATE, TAG_SHARED, TAG_COMPRESSED, TAG_SHIFT, INDEX_MASK,
} from "./layout";
import { resetRegions, reserveRegion } from "./alloc";
import {
  reserveCounters, hostGet, hostSet, vmGet,
  HOST_FRAMES_TOTAL, HOST_FRAMES_LOW_TOTAL, HOST_FRAMES_FREE, HOST_FRAMES_LOW_FREE, HOST_FRAMES_GUEST,
  HOST_FRAMES_ZIP, HOST_SHARED_FRAMES, HOST_PAGES_SHARING, HOST_SAVED_PAGES, HOST_TABLE_ENTRIES,
  VM_ZERO_PAGES, VM_ZIP_CACHE_FRAMES, VM_ZIP_BYTES,
} from "./counters";
import {
  reserveFrames, totalFrames, lowFrames, frameFlags, frameRefcount, frameMappers,
  frameHash, freeFrameCount, isLowFrame, fingerprintMode,
  KIND_MASK, KIND_FREE, KIND_GUEST, KIND_ZIP, FLAG_HASH_VALID, FLAG_IN_TABLE, FLAG_ZERO,
} from "./frames";
import { mapperKey } from "./mapping";
import { setHashMask, setContentScratch, tableKeyOf, hashFrame, frameIsZero } from "./contents";
import { reserveTable, tableFind, tableHome, tableMpnAt } from "./table";
import { reserveVmTable, vmCount, vmPages, getEntry, maxVms } from "./vms";
import { reserveBatch } from "./batch";
import { setTempBuffers } from "./pages";
import { slotGpn, slotLength, slotVm, slotInUse, cacheFrameSlotsUsed, cacheFrameVm } from "./zipcache";

let zeroPage: usize = 0;

/**
 * Lays out a machine of `frames` 4 KiB frames (the first `lowFrames` of them low memory), room for
 * `maxVms` VMs, a command region of `commandCapacity` records and `stagingPages` staging pages.
 * Returns true, or false if the 4 GiB memory cannot hold it. Call once per instance.
 */
export function createMachine(frames: u32, lowFrameCount: u32, maxVms: u32, commandCapacity: u32, stagingPages: u32, fingerprintContent: bool): bool {
  resetRegions();
  if (!reserveCounters(maxVms)) return false;
  if (!reserveBatch(commandCapacity, stagingPages)) return false;
  zeroPage = reserveRegion(PAGE_BYTES, 4096);
  const tempPage = reserveRegion(PAGE_BYTES, 4096);
  const tempBlock = reserveRegion(PAGE_BYTES, 4096);
  const contentScratch = reserveRegion(PAGE_BYTES, 4096);
  if (zeroPage == 0 || tempPage == 0 || tempBlock == 0 || contentScratch == 0) return false;
  setTempBuffers(tempPage, tempBlock);
  setContentScratch(contentScratch);
  if (!reserveVmTable(maxVms)) return false;
  if (!reserveTable(frames)) return false;
  if (!reserveFrames(frames, lowFrameCount, fingerprintContent)) return false;
  hostSet(HOST_FRAMES_TOTAL, frames);
  hostSet(HOST_FRAMES_LOW_TOTAL, lowFrames());
  setHashMask(u64.MAX_VALUE, zeroPage);
  return true;
}

/** Test hook: AND every page hash with `mask` to force collisions. Only on an empty sharing table. */
export function setHashMaskForTesting(mask: u64): bool {
  if (hostGet(HOST_TABLE_ENTRIES) != 0) return false;
  setHashMask(mask, zeroPage);
  return true;
}

// Audit failure codes: which check failed first (0 = everything agrees).
export const AUDIT_OK: u32 = 0;
export const AUDIT_TAG_COUNTS: u32 = 1;
export const AUDIT_ENTRY_FRAME_KIND: u32 = 2;
export const AUDIT_REFCOUNT: u32 = 3;
export const AUDIT_MAPPERS: u32 = 4;
export const AUDIT_SHARED_TAG: u32 = 5;
export const AUDIT_FREE_FRAMES: u32 = 6;
export const AUDIT_FRAME_KINDS: u32 = 7;
export const AUDIT_SHARED_COUNTERS: u32 = 8;
export const AUDIT_TABLE: u32 = 9;
export const AUDIT_STALE_HASH: u32 = 10;
export const AUDIT_ZERO_PAGES: u32 = 11;
export const AUDIT_ZIP_SLOTS: u32 = 12;
export const AUDIT_ZIP_COUNTERS: u32 = 13;
export const AUDIT_NO_SCRATCH: u32 = 14;

let auditDetailValue: u32 = 0;
let auditScratch: usize = 0;

/** The VM, MPN or entry the last failed audit was looking at. */
export function auditDetail(): u32 {
  return auditDetailValue;
}

/** Recomputes everything from the pmaps and frame metadata. Returns AUDIT_OK or a failure code. */
export function auditMachine(): u32 {
  const frames = totalFrames();
  // Scratch, reserved once: per frame a recounted refcount (u32) and a recomputed XOR of mapper
  // keys (u32); per VM a zero-page count; per tag a page count.
  const xorsOffset = <usize>frames * 4;
  const zeroOffset = xorsOffset + <usize>frames * 4;
  const tagOffset = zeroOffset + <usize>maxVms() * 4;
  const scratchBytes = tagOffset + TAG_COUNT * 4;
  if (auditScratch == 0) auditScratch = reserveRegion(<u64>scratchBytes, 8);
  if (auditScratch == 0) return AUDIT_NO_SCRATCH;
  memory.fill(auditScratch, 0, scratchBytes);
  const counts = auditScratch;
  const xors = auditScratch + xorsOffset;
  const zeroCounts = auditScratch + zeroOffset;
  const tagCounts = auditScratch + tagOffset;

  let zipBytesTotal: u64 = 0;
  for (let vm: u32 = 0; vm < vmCount(); vm++) {
    memory.fill(tagCounts, 0, TAG_COUNT * 4);
    const pages = vmPages(vm);
    for (let gpn: u32 = 0; gpn < pages; gpn++) {
      const entry = getEntry(vm, gpn);
      const tag = entry >>> TAG_SHIFT;
      const index = entry & INDEX_MASK;
      const p = tagCounts + (<usize>tag << 2);
      store<u32>(p, load<u32>(p) + 1);
      if (tag == TAG_PRIVATE || tag == TAG_SHARED) {
        auditDetailValue = index;
        if (index >= frames || (frameFlags(index) & KIND_MASK) != KIND_GUEST) return AUDIT_ENTRY_FRAME_KIND;
        const c = counts + (<usize>index << 2);
        store<u32>(c, load<u32>(c) + 1);
        const x = xors + (<usize>index << 2);
        store<u32>(x, load<u32>(x) ^ mapperKey(vm, gpn));
        if (frameFlags(index) & FLAG_ZERO) {
          const z = zeroCounts + (<usize>vm << 2);
          store<u32>(z, load<u32>(z) + 1);
        }
        if ((tag == TAG_SHARED) != (frameRefcount(index) >= 2)) return AUDIT_SHARED_TAG;
      } else if (tag == TAG_COMPRESSED) {
        auditDetailValue = index;
        const mpn = index >>> 1;
        if (mpn >= frames || (frameFlags(mpn) & KIND_MASK) != KIND_ZIP) return AUDIT_ZIP_SLOTS;
        if (!slotInUse(index) || slotVm(index) != vm || slotGpn(index) != gpn) return AUDIT_ZIP_SLOTS;
      }
    }
    auditDetailValue = vm;
    for (let tag: u32 = 0; tag < TAG_COUNT; tag++) {
      if (<u64>load<u32>(tagCounts + (<usize>tag << 2)) != vmGet(vm, tag)) return AUDIT_TAG_COUNTS;
    }
    if (<u64>load<u32>(zeroCounts + (<usize>vm << 2)) != vmGet(vm, VM_ZERO_PAGES)) return AUDIT_ZERO_PAGES;
    zipBytesTotal += vmGet(vm, VM_ZIP_BYTES);
  }

  let freeCount: u64 = 0;
  let lowFree: u64 = 0;
  let guestCount: u64 = 0;
  let zipCount: u64 = 0;
  let sharedFrames: u64 = 0;
  let pagesSharing: u64 = 0;
  let tableEntries: u64 = 0;
  let zipBytes: u64 = 0;
  for (let mpn: u32 = 0; mpn < frames; mpn++) {
    auditDetailValue = mpn;
    const flags = frameFlags(mpn);
    const kind = flags & KIND_MASK;
    const counted = load<u32>(counts + (<usize>mpn << 2));
    if (kind == KIND_FREE) {
      freeCount++;
      if (isLowFrame(mpn)) lowFree++;
      if (counted != 0) return AUDIT_REFCOUNT;
    } else if (kind == KIND_GUEST) {
      guestCount++;
      const refcount = frameRefcount(mpn);
      if (refcount != counted || refcount == 0) return AUDIT_REFCOUNT;
      if (frameMappers(mpn) != load<u32>(xors + (<usize>mpn << 2))) return AUDIT_MAPPERS;
      if (refcount >= 2) {
        sharedFrames++;
        pagesSharing += refcount;
      }
      if (flags & FLAG_IN_TABLE) {
        tableEntries++;
        if ((flags & FLAG_HASH_VALID) == 0) return AUDIT_STALE_HASH;
        const key = tableKeyOf(mpn);
        let slot = tableFind(key, tableHome(key));
        while (slot >= 0 && tableMpnAt(<u32>slot) != mpn) slot = tableFind(key, <u32>slot + 1);
        if (slot < 0) return AUDIT_TABLE;
      }
      if ((flags & FLAG_HASH_VALID) && !fingerprintMode()) {
        const stored = frameHash(mpn);
        if (hashFrame(mpn) != stored) return AUDIT_STALE_HASH;
      }
      if ((flags & FLAG_ZERO) && !frameIsZero(mpn, tableKeyOf(mpn))) return AUDIT_ZERO_PAGES;
    } else if (kind == KIND_ZIP) {
      zipCount++;
      if (counted != 0) return AUDIT_REFCOUNT;
      const vm = cacheFrameVm(mpn);
      const used = cacheFrameSlotsUsed(mpn);
      for (let half: u32 = 0; half < 2; half++) {
        const slot = (mpn << 1) | half;
        if (slotInUse(slot)) {
          zipBytes += slotLength(slot);
          const entry = getEntry(vm, slotGpn(slot));
          if ((entry >>> TAG_SHIFT) != TAG_COMPRESSED || (entry & INDEX_MASK) != slot) return AUDIT_ZIP_SLOTS;
        }
      }
      if (used == 0) return AUDIT_ZIP_SLOTS;
    } else {
      return AUDIT_FRAME_KINDS;
    }
  }
  auditDetailValue = 0;
  if (freeCount != hostGet(HOST_FRAMES_FREE) || freeCount != <u64>freeFrameCount()) return AUDIT_FREE_FRAMES;
  if (lowFree != hostGet(HOST_FRAMES_LOW_FREE)) return AUDIT_FREE_FRAMES;
  if (guestCount != hostGet(HOST_FRAMES_GUEST) || zipCount != hostGet(HOST_FRAMES_ZIP)) return AUDIT_FRAME_KINDS;
  if (freeCount + guestCount + zipCount != hostGet(HOST_FRAMES_TOTAL)) return AUDIT_FRAME_KINDS;
  if (sharedFrames != hostGet(HOST_SHARED_FRAMES) || pagesSharing != hostGet(HOST_PAGES_SHARING)) return AUDIT_SHARED_COUNTERS;
  if (pagesSharing - sharedFrames != hostGet(HOST_SAVED_PAGES)) return AUDIT_SHARED_COUNTERS;
  if (tableEntries != hostGet(HOST_TABLE_ENTRIES)) return AUDIT_TABLE;
  if (zipBytes != zipBytesTotal) return AUDIT_ZIP_COUNTERS;
  let zipFramesByVm: u64 = 0;
  for (let vm: u32 = 0; vm < vmCount(); vm++) zipFramesByVm += vmGet(vm, VM_ZIP_CACHE_FRAMES);
  if (zipFramesByVm != zipCount) return AUDIT_ZIP_COUNTERS;
  return AUDIT_OK;
}

