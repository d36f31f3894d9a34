// The TypeScript mirror of the core's constants (assembly/layout.ts, counters.ts, batch.ts).
// test/core-abi.test.ts checks the counter counts against the core, so the two cannot drift apart.

export const PAGE_BYTES = 4096;
export const PAGE_SHIFT = 12;
export const ZIP_SLOT_BYTES = 2048;
export const MAX_INDEX = (1 << 28) - 1;

/** Where a guest page's content lives now (the pmap tag). */
export const PageState = {
  untouched: 0,
  private: 1,
  shared: 2,
  compressed: 3,
  swapped: 4,
  ballooned: 5,
} as const;
export type PageStateName = keyof typeof PageState;
export const PAGE_STATE_NAMES: readonly PageStateName[] = ["untouched", "private", "shared", "compressed", "swapped", "ballooned"];

export const TAG_SHIFT = 29;
export const ACCESSED_BIT = 1 << 28;
export const INDEX_MASK = ACCESSED_BIT - 1;

export const Status = {
  ok: 0,
  skipped: 1,
  noFrames: 2,
  needSwapIn: 3,
  ballooned: 4,
  incompressible: 5,
  wrongState: 6,
  badArgument: 7,
  corrupt: 8,
  noLowFrames: 9,
  merged: 10,
  hinted: 11,
  needsBytes: 12,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];
export const STATUS_NAMES: readonly string[] = [
  "ok", "skipped", "noFrames", "needSwapIn", "ballooned", "incompressible", "wrongState",
  "badArgument", "corrupt", "noLowFrames", "merged", "hinted", "needsBytes",
];

export const Op = {
  touch: 1,
  writeSeed: 2,
  writeStaging: 3,
  writeBytes: 4,
  touchWrite: 5,
  peek: 6,
  scan: 7,
  compress: 8,
  swapOut: 9,
  swapIn: 10,
  inflate: 11,
  deflate: 12,
  clearAccessed: 13,
  testAccessed: 14,
  moveLow: 15,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** Per-VM counters, in the core's order. The first six are pages per state and sum to the VM's size. */
export const VM_COUNTER_NAMES = [
  "untouchedPages", "privatePages", "sharedPages", "compressedPages", "swappedPages", "balloonedPages",
  "zeroPages", "cowBreaks", "zipCacheFrames", "zipBytes", "compressions", "decompressions",
  "incompressible", "swapOuts", "swapIns", "balloonInflates", "balloonDeflates", "pagesScanned",
  "scanMerges", "hashes", "firstTouches", "guestReads", "guestWrites", "framesMovedLow",
] as const;
export type VmCounterName = (typeof VM_COUNTER_NAMES)[number];
/** Index of each per-VM counter in the core's block. */
export const VM_COUNTER_INDEX = Object.fromEntries(VM_COUNTER_NAMES.map((name, i) => [name, i])) as Record<VmCounterName, number>;
export const VM_COUNTER_SLOTS = 32;

export const HOST_COUNTER_NAMES = [
  "framesTotal", "framesFree", "lowFramesTotal", "lowFramesFree", "guestFrames", "zipCacheFrames",
  "sharedFrames", "pagesSharing", "savedPages", "tableEntries", "hashes", "hashCollisions",
  "pageCompares", "pagesScanned", "scanMerges", "vms",
] as const;
export type HostCounterName = (typeof HOST_COUNTER_NAMES)[number];
/** Index of each host counter in the core's block. */
export const HOST_COUNTER_INDEX = Object.fromEntries(HOST_COUNTER_NAMES.map((name, i) => [name, i])) as Record<HostCounterName, number>;
export const HOST_COUNTER_SLOTS = 32;

export const AUDIT_FAILURES: readonly string[] = [
  "ok",
  "per-state page counters differ from the pmap",
  "a pmap entry points at a frame that is not a guest frame",
  "a frame's refcount differs from the number of pages mapping it",
  "a frame's XOR of mappers differs from its mappers",
  "a page's shared/private tag disagrees with its frame's refcount",
  "the free-frame counters differ from the free lists",
  "frame kinds do not add up to the machine's frames",
  "shared-frame counters differ from the frames",
  "the sharing table and the frames' IN_TABLE flags disagree",
  "a frame's cached hash is stale",
  "zero-page counters or flags are wrong",
  "compression-cache slots and pmap entries disagree",
  "compression-cache counters are wrong",
  "no scratch memory for the audit",
];
