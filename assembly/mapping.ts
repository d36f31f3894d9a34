// Mapping guest pages to frames, and the bookkeeping every mapping change needs: refcounts, the
// XOR-of-mappers reverse map, shared/private transitions of the *other* mapper, zero-page counts,
// sharing-table entries, and the host's shared/saved counters.
//
// Host counters kept here (KSM's names in brackets):
//   SHARED_FRAMES  frames with refcount >= 2                        [pages_shared]
//   PAGES_SHARING  guest pages mapped to such frames
//   SAVED_PAGES    PAGES_SHARING - SHARED_FRAMES                     [pages_sharing]

import { ACCESSED_BIT, TAG_PRIVATE, TAG_SHARED, makeEntry, NO_FRAME } from "./layout";
import {
  allocGuestFrame, releaseFrame, lastAllocatedFrameIsZero, frameFlags, setFrameFlags, frameRefcount, setFrameRefcount,
  frameMappers, xorFrameMappers, FLAG_HASH_VALID, FLAG_IN_TABLE, FLAG_ZERO,
} from "./frames";
import { tableRemove } from "./table";
import { tableKeyOf, zeroFrame } from "./contents";
import { getEntry, setEntry, vmFirstGlobalPage, vmOfGlobalPage } from "./vms";
import {
  vmAdd, hostAdd, VM_ZERO_PAGES, VM_FIRST_TOUCHES,
  HOST_SHARED_FRAMES, HOST_PAGES_SHARING, HOST_SAVED_PAGES,
} from "./counters";

/** A page's host-wide index: the key whose XOR over a frame's mappers is its reverse map. */
@inline export function mapperKey(vm: u32, gpn: u32): u32 {
  return vmFirstGlobalPage(vm) + gpn;
}

/** Sets the pmap entry of the page with host-wide index `key` to (tag, mpn), keeping its accessed bit. */
function retagMapper(key: u32, tag: u32, mpn: u32): void {
  const vm = vmOfGlobalPage(key);
  const gpn = key - vmFirstGlobalPage(vm);
  const entry = getEntry(vm, gpn);
  setEntry(vm, gpn, makeEntry(tag, mpn) | (entry & ACCESSED_BIT));
}

/** Turns the single remaining mapper of `mpn` (refcount just fell to 1) back into a private page. */
function becomePrivate(mpn: u32): void {
  retagMapper(frameMappers(mpn), TAG_PRIVATE, mpn);
  hostAdd(HOST_PAGES_SHARING, -1);
  hostAdd(HOST_SHARED_FRAMES, -1);
}

/** Turns the single mapper of `mpn` (refcount about to become 2) into a shared page. */
function becomeShared(mpn: u32): void {
  retagMapper(frameMappers(mpn), TAG_SHARED, mpn);
  hostAdd(HOST_PAGES_SHARING, 1);
  hostAdd(HOST_SHARED_FRAMES, 1);
}

/**
 * (vm, gpn) stops mapping guest frame `mpn`. The caller sets the page's new pmap entry. The frame is
 * freed at refcount 0; at refcount 1 its last mapper becomes private again.
 */
export function unmapFrame(vm: u32, gpn: u32, mpn: u32): void {
  const flags = frameFlags(mpn);
  if (flags & FLAG_ZERO) vmAdd(vm, VM_ZERO_PAGES, -1);
  xorFrameMappers(mpn, mapperKey(vm, gpn));
  const refcount = frameRefcount(mpn);
  if (refcount <= 1) {
    if (flags & FLAG_IN_TABLE) tableRemove(tableKeyOf(mpn), mpn);
    releaseFrame(mpn);
    return;
  }
  setFrameRefcount(mpn, refcount - 1);
  hostAdd(HOST_PAGES_SHARING, -1);
  hostAdd(HOST_SAVED_PAGES, -1);
  if (refcount == 2) becomePrivate(mpn);
}

/** (vm, gpn) becomes one more mapper of guest frame `mpn` (a sharing merge); sets its pmap entry. */
export function mapShared(vm: u32, gpn: u32, mpn: u32, accessed: u32): void {
  const refcount = frameRefcount(mpn);
  if (refcount == 1) becomeShared(mpn);
  setFrameRefcount(mpn, refcount + 1);
  xorFrameMappers(mpn, mapperKey(vm, gpn));
  hostAdd(HOST_PAGES_SHARING, 1);
  hostAdd(HOST_SAVED_PAGES, 1);
  if (frameFlags(mpn) & FLAG_ZERO) vmAdd(vm, VM_ZERO_PAGES, 1);
  setEntry(vm, gpn, makeEntry(TAG_SHARED, mpn) | accessed);
}

/** Maps a freshly allocated frame (refcount 1) privately to (vm, gpn); `accessed` is 0 or ACCESSED_BIT. */
export function mapPrivate(vm: u32, gpn: u32, mpn: u32, accessed: u32): void {
  xorFrameMappers(mpn, mapperKey(vm, gpn));
  setEntry(vm, gpn, makeEntry(TAG_PRIVATE, mpn) | accessed);
}

/** Allocates a zero-filled frame for an untouched page's first touch. NO_FRAME if memory is full. */
export function firstTouch(vm: u32, gpn: u32): u32 {
  const mpn = allocGuestFrame(false);
  if (mpn == NO_FRAME) return NO_FRAME;
  // A never-used frame is already zero (and not yet backed by the OS: leave it untouched).
  zeroFrame(mpn, lastAllocatedFrameIsZero());
  mapPrivate(vm, gpn, mpn, ACCESSED_BIT);
  vmAdd(vm, VM_FIRST_TOUCHES, 1);
  return mpn;
}

/**
 * The content of private frame `mpn` (owned by `vm`) is about to change: drop its hint from the
 * sharing table, forget its hash and its zero mark.
 */
@inline export function contentWillChange(vm: u32, mpn: u32): void {
  const flags = frameFlags(mpn);
  if ((flags & (FLAG_HASH_VALID | FLAG_IN_TABLE | FLAG_ZERO)) == 0) return;
  if (flags & FLAG_IN_TABLE) tableRemove(tableKeyOf(mpn), mpn);
  if (flags & FLAG_ZERO) vmAdd(vm, VM_ZERO_PAGES, -1);
  setFrameFlags(mpn, flags & ~(FLAG_HASH_VALID | FLAG_IN_TABLE | FLAG_ZERO));
}
