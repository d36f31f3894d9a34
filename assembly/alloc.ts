// Linear-memory regions. The core manages its own memory: there is no garbage collector
// (runtime "stub"), only regions reserved once with a bump pointer that grows the memory as needed.
//
//   0            __heap_base                                             memory.size() * 64 KiB
//   +------------+--------------------------------------------------------+
//   | static data| regions reserved in order: counters, staging, frame    |
//   |            | metadata, sharing table, frames, pmaps, scratch ...    |
//   +------------+--------------------------------------------------------+
//
// Regions are never freed one by one; `resetRegions` drops them all when a machine is re-created.

export const WASM_PAGE_BYTES: usize = 65536;
/** The largest a wasm32 memory can grow: 65536 wasm pages = 4 GiB. */
export const MAX_WASM_PAGES: i32 = 65536;

let regionTop: usize = 0;
let scratchPtrValue: usize = 0;
let scratchBytesValue: usize = 0;

function firstFreeByte(): usize {
  return (__heap_base + 4095) & ~(<usize>4095);
}

/** Drops every region (the memory itself cannot shrink; it is reused). */
export function resetRegions(): void {
  regionTop = firstFreeByte();
  scratchPtrValue = 0;
  scratchBytesValue = 0;
}

/** Reserves `bytes` at `align` (a power of two), growing the memory. Returns 0 when 4 GiB would not hold it. */
export function reserveRegion(bytes: u64, align: usize): usize {
  if (regionTop == 0) regionTop = firstFreeByte();
  const start = (<u64>regionTop + <u64>align - 1) & ~(<u64>align - 1);
  const end = start + bytes;
  if (end > (<u64>MAX_WASM_PAGES) * <u64>WASM_PAGE_BYTES) return 0;
  const haveBytes = <u64>memory.size() * <u64>WASM_PAGE_BYTES;
  if (end > haveBytes) {
    const needPages = <i32>((end - haveBytes + <u64>WASM_PAGE_BYTES - 1) / <u64>WASM_PAGE_BYTES);
    if (memory.grow(needPages) < 0) return 0;
  }
  regionTop = <usize>end;
  return <usize>start;
}

/** Bytes reserved so far, from the start of memory. */
export function regionTopBytes(): usize {
  return regionTop == 0 ? firstFreeByte() : regionTop;
}

/**
 * A scratch region for tests and benchmarks to place raw bytes in (4096-aligned). Reserved on first
 * use and re-reserved larger when asked for more; the old region is abandoned. Returns 0 if it cannot fit.
 */
export function scratchReserve(bytes: usize): usize {
  if (bytes <= scratchBytesValue) return scratchPtrValue;
  const ptr = reserveRegion(<u64>bytes, 4096);
  if (ptr == 0) return 0;
  scratchPtrValue = ptr;
  scratchBytesValue = bytes;
  return ptr;
}
