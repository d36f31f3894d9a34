// Exact counters, u64 each, kept by every operation as it happens (never recomputed by a sweep).
//
//   host counters: HOST_COUNTER_SLOTS x u64
//   VM counters:   maxVms x VM_COUNTER_SLOTS x u64; the first TAG_COUNT of a VM's counters are
//                  its pages per pmap tag, so they always sum to the VM's configured pages.
//
// The TypeScript mirror of these indices is src/core/abi.ts; a test checks the two agree.

import { TAG_COUNT } from "./layout";
import { reserveRegion } from "./alloc";

// Per-VM counters. Indices 0..5 are the pmap tags (TAG_UNTOUCHED .. TAG_BALLOONED).
export const VM_ZERO_PAGES: u32 = TAG_COUNT; // pages backed by a frame known to hold only zeros
export const VM_COW_BREAKS: u32 = TAG_COUNT + 1;
export const VM_ZIP_CACHE_FRAMES: u32 = TAG_COUNT + 2; // machine frames holding this VM's compression cache
export const VM_ZIP_BYTES: u32 = TAG_COUNT + 3; // LZ4 bytes stored in its cache slots now
export const VM_COMPRESSIONS: u32 = TAG_COUNT + 4;
export const VM_DECOMPRESSIONS: u32 = TAG_COUNT + 5;
export const VM_INCOMPRESSIBLE: u32 = TAG_COUNT + 6;
export const VM_SWAP_OUTS: u32 = TAG_COUNT + 7;
export const VM_SWAP_INS: u32 = TAG_COUNT + 8;
export const VM_BALLOON_INFLATES: u32 = TAG_COUNT + 9;
export const VM_BALLOON_DEFLATES: u32 = TAG_COUNT + 10;
export const VM_PAGES_SCANNED: u32 = TAG_COUNT + 11;
export const VM_SCAN_MERGES: u32 = TAG_COUNT + 12;
export const VM_HASHES: u32 = TAG_COUNT + 13;
export const VM_FIRST_TOUCHES: u32 = TAG_COUNT + 14;
export const VM_GUEST_READS: u32 = TAG_COUNT + 15;
export const VM_GUEST_WRITES: u32 = TAG_COUNT + 16;
export const VM_FRAMES_MOVED_LOW: u32 = TAG_COUNT + 17;
export const VM_COUNTER_COUNT: u32 = TAG_COUNT + 18;
export const VM_COUNTER_SLOTS: u32 = 32;

// Host counters.
export const HOST_FRAMES_TOTAL: u32 = 0;
export const HOST_FRAMES_FREE: u32 = 1;
export const HOST_FRAMES_LOW_TOTAL: u32 = 2;
export const HOST_FRAMES_LOW_FREE: u32 = 3;
export const HOST_FRAMES_GUEST: u32 = 4; // frames backing guest pages (private or shared)
export const HOST_FRAMES_ZIP: u32 = 5; // frames holding compression-cache slots
export const HOST_SHARED_FRAMES: u32 = 6; // frames with refcount >= 2 (KSM pages_shared)
export const HOST_PAGES_SHARING: u32 = 7; // guest pages mapped to those frames
export const HOST_SAVED_PAGES: u32 = 8; // PAGES_SHARING - SHARED_FRAMES (KSM pages_sharing)
export const HOST_TABLE_ENTRIES: u32 = 9;
export const HOST_HASHES: u32 = 10;
export const HOST_HASH_COLLISIONS: u32 = 11; // equal hash, different bytes: never shared
export const HOST_PAGE_COMPARES: u32 = 12;
export const HOST_PAGES_SCANNED: u32 = 13;
export const HOST_SCAN_MERGES: u32 = 14;
export const HOST_VMS: u32 = 15;
export const HOST_COUNTER_COUNT: u32 = 16;
export const HOST_COUNTER_SLOTS: u32 = 32;

let hostCountersPtr: usize = 0;
let vmCountersPtr: usize = 0;

/** Reserves the counter blocks (zeroed: fresh memory). Returns false if memory is exhausted. */
export function reserveCounters(maxVms: u32): bool {
  hostCountersPtr = reserveRegion(<u64>HOST_COUNTER_SLOTS * 8, 64);
  vmCountersPtr = reserveRegion(<u64>maxVms * <u64>VM_COUNTER_SLOTS * 8, 64);
  return hostCountersPtr != 0 && vmCountersPtr != 0;
}

export function hostCountersBase(): usize {
  return hostCountersPtr;
}

export function vmCountersBase(): usize {
  return vmCountersPtr;
}

@inline export function hostAdd(counter: u32, delta: i64): void {
  const p = hostCountersPtr + (<usize>counter << 3);
  store<i64>(p, load<i64>(p) + delta);
}

@inline export function hostGet(counter: u32): u64 {
  return load<u64>(hostCountersPtr + (<usize>counter << 3));
}

@inline export function hostSet(counter: u32, value: u64): void {
  store<u64>(hostCountersPtr + (<usize>counter << 3), value);
}

@inline export function vmAdd(vm: u32, counter: u32, delta: i64): void {
  const p = vmCountersPtr + ((<usize>vm * <usize>VM_COUNTER_SLOTS + <usize>counter) << 3);
  store<i64>(p, load<i64>(p) + delta);
}

@inline export function vmGet(vm: u32, counter: u32): u64 {
  return load<u64>(vmCountersPtr + ((<usize>vm * <usize>VM_COUNTER_SLOTS + <usize>counter) << 3));
}

/** How many per-VM counters are defined (for the TypeScript mirror's self-check). */
export function vmCounterCount(): u32 {
  return VM_COUNTER_COUNT;
}

/** How many host counters are defined (for the TypeScript mirror's self-check). */
export function hostCounterCount(): u32 {
  return HOST_COUNTER_COUNT;
}
