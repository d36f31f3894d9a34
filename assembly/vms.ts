// Virtual machines: each has a pmap (one u32 entry per guest page, see layout.ts) and a record.
//
//   VM record, 16 bytes: u32 pmap address | u32 configured pages | u32 first global page index |
//                        u32 head of its list of compression-cache frames with a free slot
//
// Every change of a pmap entry goes through `setEntry`, which keeps the VM's per-tag page counters
// exact (they always sum to the configured pages).

import { reserveRegion } from "./alloc";
import { NO_FRAME, TAG_SHIFT, TAG_UNTOUCHED } from "./layout";
import { vmAdd, hostAdd, HOST_VMS } from "./counters";

const VM_RECORD_BYTES: u32 = 16;
const REC_PMAP: u32 = 0;
const REC_PAGES: u32 = 4;
const REC_FIRST_GLOBAL: u32 = 8;
const REC_ZIP_PARTIAL: u32 = 12;

let recordsBase: usize = 0;
let maxVmCount: u32 = 0;
let vmCountValue: u32 = 0;
let globalPagesValue: u64 = 0;

export function reserveVmTable(maxVms: u32): bool {
  recordsBase = reserveRegion(<u64>maxVms * VM_RECORD_BYTES, 64);
  maxVmCount = maxVms;
  vmCountValue = 0;
  globalPagesValue = 0;
  return recordsBase != 0;
}

@inline function record(vm: u32): usize {
  return recordsBase + <usize>vm * VM_RECORD_BYTES;
}

export function vmCount(): u32 {
  return vmCountValue;
}

export function maxVms(): u32 {
  return maxVmCount;
}

/** Total guest pages over all VMs (the index space of a host-wide scan order). */
export function globalPages(): u64 {
  return globalPagesValue;
}

/** Adds a VM of `pages` guest pages, all untouched. Returns its id, or -1 (table full / no memory). */
export function addVm(pages: u32): i32 {
  if (vmCountValue >= maxVmCount) return -1;
  if (<u64>globalPagesValue + pages > <u64>u32.MAX_VALUE) return -1;
  const pmap = reserveRegion(<u64>pages * 4, 64);
  if (pmap == 0 && pages != 0) return -1;
  const vm = vmCountValue++;
  const rec = record(vm);
  store<u32>(rec + REC_PMAP, <u32>pmap);
  store<u32>(rec + REC_PAGES, pages);
  store<u32>(rec + REC_FIRST_GLOBAL, <u32>globalPagesValue);
  store<u32>(rec + REC_ZIP_PARTIAL, NO_FRAME);
  globalPagesValue += pages;
  vmAdd(vm, TAG_UNTOUCHED, <i64>pages);
  hostAdd(HOST_VMS, 1);
  return <i32>vm;
}

@inline export function vmPages(vm: u32): u32 {
  return load<u32>(record(vm) + REC_PAGES);
}

@inline export function vmFirstGlobalPage(vm: u32): u32 {
  return load<u32>(record(vm) + REC_FIRST_GLOBAL);
}

@inline export function pmapBase(vm: u32): usize {
  return <usize>load<u32>(record(vm) + REC_PMAP);
}

@inline export function zipPartialHead(vm: u32): u32 {
  return load<u32>(record(vm) + REC_ZIP_PARTIAL);
}

@inline export function setZipPartialHead(vm: u32, mpn: u32): void {
  store<u32>(record(vm) + REC_ZIP_PARTIAL, mpn);
}

@inline export function validPage(vm: u32, gpn: u32): bool {
  return vm < vmCountValue && gpn < vmPages(vm);
}

@inline export function getEntry(vm: u32, gpn: u32): u32 {
  return load<u32>(pmapBase(vm) + (<usize>gpn << 2));
}

/** Sets a pmap entry, moving the page between the VM's per-tag counters. */
@inline export function setEntry(vm: u32, gpn: u32, entry: u32): void {
  const p = pmapBase(vm) + (<usize>gpn << 2);
  const oldTag = load<u32>(p) >>> TAG_SHIFT;
  const newTag = entry >>> TAG_SHIFT;
  if (oldTag != newTag) {
    vmAdd(vm, oldTag, -1);
    vmAdd(vm, newTag, 1);
  }
  store<u32>(p, entry);
}

/** Sets only the bits of an entry that do not change its tag (accessed bit, index). */
@inline export function setEntrySameTag(vm: u32, gpn: u32, entry: u32): void {
  store<u32>(pmapBase(vm) + (<usize>gpn << 2), entry);
}

/** Maps a host-wide page index (0 .. globalPages-1, VMs in id order) to its VM. */
export function vmOfGlobalPage(index: u32): u32 {
  let lo: u32 = 0;
  let hi: u32 = vmCountValue - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (vmFirstGlobalPage(mid) <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

