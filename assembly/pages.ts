// Guest page operations: access, write (breaking copy-on-write), content from a seed, compression
// into the VM's cache, swap-out to / swap-in from the staging buffer, balloon inflate / deflate,
// non-intrusive read (peek), and the move of a page into low memory for I/O.
//
// Each function takes a page that the caller has validated and returns a status (layout.ts). When a
// page is in the swap file the core cannot bring it back itself (it never touches files): it answers
// STATUS_NEED_SWAP_IN and the TypeScript side reads the slot into staging and calls swapIn.

import {
  PAGE_BYTES, ZIP_SLOT_BYTES, ACCESSED_BIT, NO_FRAME, TAG_SHIFT, INDEX_MASK,
  TAG_UNTOUCHED, TAG_PRIVATE, TAG_SHARED, TAG_COMPRESSED, TAG_SWAPPED, TAG_BALLOONED,
  STATUS_OK, STATUS_SKIPPED, STATUS_NO_FRAMES, STATUS_NEED_SWAP_IN, STATUS_BALLOONED,
  STATUS_INCOMPRESSIBLE, STATUS_WRONG_STATE, STATUS_NO_LOW_FRAMES, STATUS_CORRUPT, STATUS_NEEDS_BYTES,
  makeEntry,
} from "./layout";
import {
  framePtr, metaPtr, allocGuestFrame, releaseFrame, lastAllocatedFrameIsZero, frameFlags, setFrameFlags, setFrameHash, isLowFrame,
  fingerprintMode, FRAME_META_BYTES, FLAG_IN_TABLE, KIND_GUEST,
} from "./frames";
import {
  tableKeyOf, fillFrame, zeroFrame, copyFrame, readFrame, frameToStaging, stagingToFrame, compressFrame,
} from "./contents";
import { tableRetarget } from "./table";
import { getEntry, setEntry, setEntrySameTag } from "./vms";
import { unmapFrame, mapPrivate, firstTouch, contentWillChange } from "./mapping";
import { storeBlock, freeSlot, decodeSlot, slotIsAlone, lastSlot, needsNewCacheFrame, slotFingerprint } from "./zipcache";
import { frameHash } from "./frames";
import {
  vmAdd, hostGet, HOST_FRAMES_FREE,
  VM_COW_BREAKS, VM_COMPRESSIONS, VM_DECOMPRESSIONS, VM_INCOMPRESSIBLE, VM_SWAP_OUTS, VM_SWAP_INS,
  VM_BALLOON_INFLATES, VM_BALLOON_DEFLATES, VM_FIRST_TOUCHES, VM_GUEST_READS, VM_GUEST_WRITES,
  VM_FRAMES_MOVED_LOW,
} from "./counters";

let tempPage: usize = 0;
let tempBlock: usize = 0;
/** Extra result of the last operation (a swap slot, an accessed bit), read by the batch runner. */
let auxResult: u32 = 0;

/** Returns and clears the extra result of the last operation. */
export function takeAux(): u32 {
  const aux = auxResult;
  auxResult = 0;
  return aux;
}

export function setTempBuffers(page: usize, block: usize): void {
  tempPage = page;
  tempBlock = block;
}

/** Writes the content held in cache slot `slot` into frame `mpn`. STATUS_OK or STATUS_CORRUPT. */
function restoreFromSlot(slot: u32, mpn: u32): u32 {
  if (fingerprintMode()) {
    setFrameHash(mpn, slotFingerprint(slot));
    return STATUS_OK;
  }
  return decodeSlot(slot, framePtr(mpn));
}

/** Decompresses a compressed page back into a new private frame. */
function decompressIn(vm: u32, gpn: u32, slot: u32): u32 {
  const haveFreeFrame = hostGet(HOST_FRAMES_FREE) > 0;
  if (!haveFreeFrame && !slotIsAlone(slot)) return STATUS_NO_FRAMES;
  let mpn = NO_FRAME;
  if (haveFreeFrame) {
    mpn = allocGuestFrame(false);
    if (restoreFromSlot(slot, mpn) != STATUS_OK) {
      releaseFrame(mpn);
      return STATUS_CORRUPT;
    }
    freeSlot(slot);
  } else if (fingerprintMode()) {
    const fingerprint = slotFingerprint(slot);
    freeSlot(slot); // frees the cache frame, so the allocation below succeeds
    mpn = allocGuestFrame(false);
    setFrameHash(mpn, fingerprint);
  } else {
    if (decodeSlot(slot, tempPage) != STATUS_OK) return STATUS_CORRUPT;
    freeSlot(slot); // frees the cache frame, so the allocation below succeeds
    mpn = allocGuestFrame(false);
    memory.copy(framePtr(mpn), tempPage, PAGE_BYTES);
  }
  mapPrivate(vm, gpn, mpn, ACCESSED_BIT);
  vmAdd(vm, VM_DECOMPRESSIONS, 1);
  return STATUS_OK;
}

/** A guest read access: first touch allocates a zeroed frame; compressed pages come back. */
export function touchPage(vm: u32, gpn: u32): u32 {
  const entry = getEntry(vm, gpn);
  const tag = entry >>> TAG_SHIFT;
  let status = STATUS_OK;
  if (tag == TAG_PRIVATE || tag == TAG_SHARED) {
    if ((entry & ACCESSED_BIT) == 0) setEntrySameTag(vm, gpn, entry | ACCESSED_BIT);
  } else if (tag == TAG_UNTOUCHED) {
    if (firstTouch(vm, gpn) == NO_FRAME) status = STATUS_NO_FRAMES;
  } else if (tag == TAG_COMPRESSED) {
    status = decompressIn(vm, gpn, entry & INDEX_MASK);
  } else if (tag == TAG_SWAPPED) {
    auxResult = entry & INDEX_MASK;
    status = STATUS_NEED_SWAP_IN;
  } else {
    status = STATUS_BALLOONED;
  }
  if (status == STATUS_OK) vmAdd(vm, VM_GUEST_READS, 1);
  return status;
}

let writableFrame: u32 = NO_FRAME;

/**
 * Makes (vm, gpn) a private, writable frame (in `writableFrame`): breaks COW, brings compressed
 * pages back, allocates on first touch. `keepContent` false skips copies when the whole page will
 * be overwritten.
 */
function makeWritable(vm: u32, gpn: u32, keepContent: bool): u32 {
  const status = makeWritableFrame(vm, gpn, keepContent);
  if (status == STATUS_OK) vmAdd(vm, VM_GUEST_WRITES, 1);
  return status;
}

function makeWritableFrame(vm: u32, gpn: u32, keepContent: bool): u32 {
  let entry = getEntry(vm, gpn);
  let tag = entry >>> TAG_SHIFT;
  if (tag == TAG_COMPRESSED) {
    const status = decompressIn(vm, gpn, entry & INDEX_MASK);
    if (status != STATUS_OK) return status;
    entry = getEntry(vm, gpn);
    tag = TAG_PRIVATE;
  }
  if (tag == TAG_PRIVATE) {
    const mpn = entry & INDEX_MASK;
    contentWillChange(vm, mpn);
    if ((entry & ACCESSED_BIT) == 0) setEntrySameTag(vm, gpn, entry | ACCESSED_BIT);
    writableFrame = mpn;
    return STATUS_OK;
  }
  if (tag == TAG_SHARED) {
    const shared = entry & INDEX_MASK;
    const mpn = allocGuestFrame(false);
    if (mpn == NO_FRAME) return STATUS_NO_FRAMES;
    if (keepContent) copyFrame(mpn, shared);
    unmapFrame(vm, gpn, shared);
    mapPrivate(vm, gpn, mpn, ACCESSED_BIT);
    vmAdd(vm, VM_COW_BREAKS, 1);
    writableFrame = mpn;
    return STATUS_OK;
  }
  if (tag == TAG_UNTOUCHED) {
    const mpn = allocGuestFrame(false);
    if (mpn == NO_FRAME) return STATUS_NO_FRAMES;
    if (keepContent) zeroFrame(mpn, lastAllocatedFrameIsZero());
    mapPrivate(vm, gpn, mpn, ACCESSED_BIT);
    vmAdd(vm, VM_FIRST_TOUCHES, 1);
    writableFrame = mpn;
    return STATUS_OK;
  }
  if (tag == TAG_SWAPPED) {
    auxResult = entry & INDEX_MASK;
    return STATUS_NEED_SWAP_IN;
  }
  return STATUS_BALLOONED;
}

/** A guest write whose bytes we do not model: COW break and "content changed", bytes kept. */
export function touchWritePage(vm: u32, gpn: u32): u32 {
  return makeWritable(vm, gpn, true);
}

/** Overwrites the whole page with the content of `seed`. */
export function writeSeed(vm: u32, gpn: u32, seed: u64): u32 {
  const status = makeWritable(vm, gpn, false);
  if (status == STATUS_OK) fillFrame(writableFrame, seed);
  return status;
}

/** Overwrites the whole page with 4096 bytes from `src`. */
export function writePageFrom(vm: u32, gpn: u32, src: usize): u32 {
  if (fingerprintMode()) return STATUS_NEEDS_BYTES;
  const status = makeWritable(vm, gpn, false);
  if (status == STATUS_OK) memory.copy(framePtr(writableFrame), src, PAGE_BYTES);
  return status;
}

/** Writes `length` bytes from `src` at byte `offset` of the page (offset + length <= 4096). */
export function writeBytesFrom(vm: u32, gpn: u32, offset: u32, length: u32, src: usize): u32 {
  if (fingerprintMode()) return STATUS_NEEDS_BYTES;
  const whole = offset == 0 && length == PAGE_BYTES;
  const status = makeWritable(vm, gpn, !whole);
  if (status == STATUS_OK) memory.copy(framePtr(writableFrame) + offset, src, length);
  return status;
}

/** Copies the page's guest-visible bytes to `dst` without changing anything. */
export function peekPage(vm: u32, gpn: u32, dst: usize): u32 {
  const entry = getEntry(vm, gpn);
  const tag = entry >>> TAG_SHIFT;
  if (tag == TAG_PRIVATE || tag == TAG_SHARED) {
    readFrame(entry & INDEX_MASK, dst);
    return STATUS_OK;
  }
  if (tag == TAG_COMPRESSED) return decodeSlot(entry & INDEX_MASK, dst);
  if (tag == TAG_SWAPPED) {
    auxResult = entry & INDEX_MASK;
    return STATUS_NEED_SWAP_IN;
  }
  memory.fill(dst, 0, PAGE_BYTES); // untouched or ballooned: reads as zeros
  return STATUS_OK;
}

/** Compresses a resident page into its VM's cache if its LZ4 block fits a 2048-byte slot. */
export function compressPage(vm: u32, gpn: u32): u32 {
  const entry = getEntry(vm, gpn);
  const tag = entry >>> TAG_SHIFT;
  if (tag != TAG_PRIVATE && tag != TAG_SHARED) return STATUS_WRONG_STATE;
  const mpn = entry & INDEX_MASK;
  const length = compressFrame(mpn, tempBlock);
  if (length <= 0) {
    vmAdd(vm, VM_INCOMPRESSIBLE, 1);
    return STATUS_INCOMPRESSIBLE;
  }
  // A private page frees its own frame first, so a new cache frame can always be had.
  if (tag == TAG_SHARED && needsNewCacheFrame(vm) && hostGet(HOST_FRAMES_FREE) == 0) return STATUS_NO_FRAMES;
  const fingerprint = frameHash(mpn);
  unmapFrame(vm, gpn, mpn);
  storeBlock(vm, gpn, tempBlock, <u32>length, fingerprint);
  setEntry(vm, gpn, makeEntry(TAG_COMPRESSED, lastSlot()) | (entry & ACCESSED_BIT));
  vmAdd(vm, VM_COMPRESSIONS, 1);
  return STATUS_OK;
}

/** Moves a resident or compressed page's bytes to `dst` (staging) and records it as in `swapSlot`. */
export function swapOutPage(vm: u32, gpn: u32, swapSlot: u32, dst: usize): u32 {
  const entry = getEntry(vm, gpn);
  const tag = entry >>> TAG_SHIFT;
  if (tag == TAG_PRIVATE || tag == TAG_SHARED) {
    const mpn = entry & INDEX_MASK;
    frameToStaging(mpn, dst);
    unmapFrame(vm, gpn, mpn);
  } else if (tag == TAG_COMPRESSED) {
    const slot = entry & INDEX_MASK;
    if (fingerprintMode()) store<u64>(dst, slotFingerprint(slot));
    else if (decodeSlot(slot, dst) != STATUS_OK) return STATUS_CORRUPT;
    freeSlot(slot);
  } else {
    return STATUS_WRONG_STATE;
  }
  setEntry(vm, gpn, makeEntry(TAG_SWAPPED, swapSlot) | (entry & ACCESSED_BIT));
  vmAdd(vm, VM_SWAP_OUTS, 1);
  return STATUS_OK;
}

/** Brings a swapped page back from 4096 bytes at `src` (its slot, read by the caller). */
export function swapInPage(vm: u32, gpn: u32, src: usize): u32 {
  const entry = getEntry(vm, gpn);
  if ((entry >>> TAG_SHIFT) != TAG_SWAPPED) return STATUS_WRONG_STATE;
  const mpn = allocGuestFrame(false);
  if (mpn == NO_FRAME) return STATUS_NO_FRAMES;
  stagingToFrame(src, mpn);
  auxResult = entry & INDEX_MASK;
  // A swap-in is the host's doing: the page keeps its accessed bit; a guest access sets it anyway.
  mapPrivate(vm, gpn, mpn, entry & ACCESSED_BIT);
  vmAdd(vm, VM_SWAP_INS, 1);
  return STATUS_OK;
}

/** The balloon takes the page: whatever backed it is released (a swap slot is reported in aux). */
export function inflatePage(vm: u32, gpn: u32): u32 {
  const entry = getEntry(vm, gpn);
  const tag = entry >>> TAG_SHIFT;
  auxResult = INDEX_MASK + 1; // "no swap slot released"
  if (tag == TAG_BALLOONED) return STATUS_WRONG_STATE;
  if (tag == TAG_PRIVATE || tag == TAG_SHARED) unmapFrame(vm, gpn, entry & INDEX_MASK);
  else if (tag == TAG_COMPRESSED) freeSlot(entry & INDEX_MASK);
  else if (tag == TAG_SWAPPED) auxResult = entry & INDEX_MASK;
  setEntry(vm, gpn, makeEntry(TAG_BALLOONED, 0));
  vmAdd(vm, VM_BALLOON_INFLATES, 1);
  return STATUS_OK;
}

/** The balloon returns the page to the guest: untouched, reads as zeros. */
export function deflatePage(vm: u32, gpn: u32): u32 {
  if ((getEntry(vm, gpn) >>> TAG_SHIFT) != TAG_BALLOONED) return STATUS_WRONG_STATE;
  setEntry(vm, gpn, makeEntry(TAG_UNTOUCHED, 0));
  vmAdd(vm, VM_BALLOON_DEFLATES, 1);
  return STATUS_OK;
}

/** Clears the accessed bit (activity sampling starts watching the page). */
export function clearAccessed(vm: u32, gpn: u32): u32 {
  const entry = getEntry(vm, gpn);
  if (entry & ACCESSED_BIT) setEntrySameTag(vm, gpn, entry & ~ACCESSED_BIT);
  return STATUS_OK;
}

/** aux = 1 if the page was accessed since its bit was cleared. */
export function testAccessed(vm: u32, gpn: u32): u32 {
  auxResult = (getEntry(vm, gpn) & ACCESSED_BIT) ? 1 : 0;
  return STATUS_OK;
}

/**
 * Moves a private page into a low frame (I/O remapping): same bytes, same hash and sharing-table
 * entry, new MPN. SKIPPED if it is already low, WRONG_STATE unless private.
 */
export function moveToLowFrame(vm: u32, gpn: u32): u32 {
  const entry = getEntry(vm, gpn);
  if ((entry >>> TAG_SHIFT) != TAG_PRIVATE) return STATUS_WRONG_STATE;
  const oldMpn = entry & INDEX_MASK;
  if (isLowFrame(oldMpn)) return STATUS_SKIPPED;
  const newMpn = allocGuestFrame(true);
  if (newMpn == NO_FRAME) return STATUS_NO_LOW_FRAMES;
  memory.copy(metaPtr(newMpn), metaPtr(oldMpn), FRAME_META_BYTES); // hash, mappers, refcount, flags
  if (!fingerprintMode()) copyFrame(newMpn, oldMpn);
  if (frameFlags(oldMpn) & FLAG_IN_TABLE) tableRetarget(tableKeyOf(oldMpn), oldMpn, newMpn);
  setFrameFlags(oldMpn, KIND_GUEST); // the flags moved with the content
  releaseFrame(oldMpn);
  setEntrySameTag(vm, gpn, makeEntry(TAG_PRIVATE, newMpn) | (entry & ACCESSED_BIT));
  vmAdd(vm, VM_FRAMES_MOVED_LOW, 1);
  return STATUS_OK;
}


/**
 * The LZ4 block size of a resident page if it fits a 2048-byte cache slot, 0 if it does not, -1 if
 * the page has no frame. Changes nothing.
 */
export function compressibleSize(vm: u32, gpn: u32): i32 {
  const entry = getEntry(vm, gpn);
  const tag = entry >>> TAG_SHIFT;
  if (tag != TAG_PRIVATE && tag != TAG_SHARED) return -1;
  return compressFrame(entry & INDEX_MASK, tempBlock);
}

/** How many of the VM's private pages (content not shared) would fit a compression-cache slot. */
export function countCompressiblePrivatePages(vm: u32, pages: u32): u32 {
  let count: u32 = 0;
  for (let gpn: u32 = 0; gpn < pages; gpn++) {
    if ((getEntry(vm, gpn) >>> TAG_SHIFT) == TAG_PRIVATE && compressibleSize(vm, gpn) > 0) count++;
  }
  return count;
}
