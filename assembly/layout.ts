// Shared constants of the core: page geometry, pmap entry tags, frame flags, status codes.
//
// pmap entry (u32, one per guest page):
//
//   31    29 28 27                                   0
//   +-------+--+--------------------------------------+
//   |  tag  |A |  index: MPN, compression slot or swap slot
//   +-------+--+--------------------------------------+
//
//   tag  UNTOUCHED (reads as zeros, no frame) | PRIVATE (frame, refcount 1) | SHARED (frame,
//        refcount >= 2) | COMPRESSED (slot = MPN of a cache frame * 2 + half) | SWAPPED (swap slot,
//        chosen by the TypeScript side) | BALLOONED (taken by the guest's balloon driver, no frame)
//   A    accessed bit, set by every guest access, cleared by activity sampling

export const PAGE_SHIFT: u32 = 12;
export const PAGE_BYTES: u32 = 1 << PAGE_SHIFT;
/** A compressed page fits in a cache slot when its LZ4 block is at most this many bytes. */
export const ZIP_SLOT_BYTES: u32 = PAGE_BYTES / 2;

export const TAG_SHIFT: u32 = 29;
export const ACCESSED_BIT: u32 = 1 << 28;
export const INDEX_MASK: u32 = ACCESSED_BIT - 1;
/** Largest MPN, slot or swap-slot number an entry can hold. */
export const MAX_INDEX: u32 = INDEX_MASK;

export const TAG_UNTOUCHED: u32 = 0;
export const TAG_PRIVATE: u32 = 1;
export const TAG_SHARED: u32 = 2;
export const TAG_COMPRESSED: u32 = 3;
export const TAG_SWAPPED: u32 = 4;
export const TAG_BALLOONED: u32 = 5;
export const TAG_COUNT: u32 = 6;

/** No frame: used as the end of intrusive lists. */
export const NO_FRAME: u32 = 0xffffffff;

// Status codes, per operation (and for the batch as a whole). Keep in step with src/core/abi.ts.
export const STATUS_OK: u32 = 0;
/** The operation had nothing to do (e.g. scanning an untouched page). Not an error. */
export const STATUS_SKIPPED: u32 = 1;
/** No free machine frame: the batch stops here; the policy must reclaim memory and retry. */
export const STATUS_NO_FRAMES: u32 = 2;
/** The page is in the swap file: the batch stops; the caller reads the slot into staging and swaps in. */
export const STATUS_NEED_SWAP_IN: u32 = 3;
/** The page is ballooned: guest accesses to it are refused. */
export const STATUS_BALLOONED: u32 = 4;
/** The page's LZ4 block is larger than a cache slot. */
export const STATUS_INCOMPRESSIBLE: u32 = 5;
/** The page is not in the state the operation needs (e.g. swapping in a page that is not swapped). */
export const STATUS_WRONG_STATE: u32 = 6;
/** VM id or GPN out of range, unknown op, staging index out of range. */
export const STATUS_BAD_ARGUMENT: u32 = 7;
/** A compressed block failed to decode (cannot happen unless memory was corrupted). */
export const STATUS_CORRUPT: u32 = 8;
/** No low frame is free for an I/O remap. */
export const STATUS_NO_LOW_FRAMES: u32 = 9;
/** Sharing scan: the page was merged into a shared frame. */
export const STATUS_MERGED: u32 = 10;
/** Sharing scan: the page was recorded as a hint. */
export const STATUS_HINTED: u32 = 11;
/** The operation needs real page bytes, and this machine holds fingerprints. */
export const STATUS_NEEDS_BYTES: u32 = 12;

@inline export function makeEntry(tag: u32, index: u32): u32 {
  return (tag << TAG_SHIFT) | index;
}
