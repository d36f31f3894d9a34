// Valgrind lackey memory traces (`valgrind --tool=lackey --trace-mem=yes prog`) as one VM's
// events, streamed with memory that grows only with the number of distinct pages.
//
//   I  0023C790,2        instruction fetch: address (hex), size (decimal bytes)
//    L 0025747C,4        load
//    S BE80199C,4        store
//    M 0025747C,4        modify (load and store)
//   ==1234== ...         valgrind's own lines: skipped, as are blank lines
//   Anything else is an error naming the line. Addresses are up to 64 bits (16 hex digits);
//   sizes are 1..65536 bytes.
//
// Mapping:
//   - Each distinct 4 KiB virtual page (address >> 12) becomes a guest page; GPNs are given in
//     order of first appearance (the first page seen is GPN 0). An access whose bytes cross a page
//     boundary uses every page it spans (in address order).
//   - I and L are touches. S and M are writes that change the page's content deterministically:
//     the page's new content seed is
//         a     = mix64(previous seed XOR address)
//         seed' = mix64((a XOR (size * 2^32 + stores)) + 0x9e3779b97f4a7c15  mod 2^64)
//     where mix64 is SplitMix64's finaliser (z ^= z >> 30; z *= 0xbf58476d1ce4e5b9; z ^= z >> 27;
//     z *= 0x94d049bb133111eb; z ^= z >> 31), the previous seed of a page never stored to is 0
//     (the zero page), `address` and `size` are those of the access's bytes on this page (the
//     whole access unless it crosses a page boundary; on the next page it starts at the page's
//     first byte), and `stores` counts the earlier S/M accesses to this page (mod 2^32). So the
//     same trace always gives the same bytes, and pages' contents differ unless their store
//     histories are the same (pages of different addresses always differ).
//   - Time: lackey has no timestamps. Record k (0-based, counting I/L/S/M lines) happens at
//     floor(k * 1000 / rate) ms, `rate` being records per simulated second (default 1,000,000).
//   - Coalescing: an I or L access to the page of the previous emitted event (a touch or write of
//     the same page) is not emitted again; stores are never coalesced.
//   - One VM (default name "vm1", 1 GiB = 262,144 pages). If the trace uses more distinct pages
//     than that, the reader reads to the end to count them and fails with how many were needed.
//
// State: a hash table virtual page -> GPN plus 12 bytes per GPN (seed and store counter), grown
// with the distinct pages seen; nothing grows with the number of records.
import { EventValidator, TraceChunk, TraceFormatError, TraceOp, type TraceHeader, type TraceSource } from "./events.ts";
import { LineReader, MAX_LINE_BYTES, quoteBytes } from "./jsonl.ts";

export interface LackeyOptions {
  /** Guest memory of the VM in 4 KiB pages (default 262,144: 1 GiB). */
  vmPages?: number;
  /** Lackey records per simulated second (default 1,000,000). */
  rate?: number;
  /** Name of the VM (default "vm1"). */
  vmName?: string;
  chunkEvents?: number;
}

export const LACKEY_DEFAULT_VM_PAGES = 262144;
export const LACKEY_DEFAULT_RATE = 1_000_000;
/** Largest access size accepted, in bytes. */
export const LACKEY_MAX_SIZE = 65536;
/** Pages one access can span: an access of LACKEY_MAX_SIZE bytes at the end of a page. */
const MAX_SPAN = LACKEY_MAX_SIZE / 4096 + 1;
/** Virtual page numbers are below 2^52 (64-bit addresses): the high word is below 2^20. */
const MAX_PAGE_HIGH = 0xfffff;

// ---- 64-bit mixing with 32-bit halves (no BigInt, no allocation) -----------------------------

/** The 64-bit value being mixed: [high word, low word], in a typed array so nothing is boxed. */
const mixState = new Uint32Array(2);

/** High 32 bits of the 64-bit product of two u32. */
function mulHigh32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + Math.floor(mid / 65536)) >>> 0;
}

/** mixState = mixState * (bHigh, bLow) mod 2^64. */
function mul64(bHigh: number, bLow: number): void {
  const aHigh = mixState[0] as number;
  const aLow = mixState[1] as number;
  mixState[0] = mulHigh32(aLow, bLow) + Math.imul(aLow, bHigh) + Math.imul(aHigh, bLow);
  mixState[1] = Math.imul(aLow, bLow);
}

/** mixState ^= mixState >> s, for 0 < s < 32. */
function xorShiftRight(s: number): void {
  const high = mixState[0] as number;
  const low = mixState[1] as number;
  mixState[1] = low ^ ((low >>> s) | (high << (32 - s)));
  mixState[0] = high ^ (high >>> s);
}

/** SplitMix64's finaliser on mixState. */
function mix64(): void {
  xorShiftRight(30);
  mul64(0xbf58476d, 0x1ce4e5b9);
  xorShiftRight(27);
  mul64(0x94d049bb, 0x133111eb);
  xorShiftRight(31);
}

/**
 * The content seed after a store (see the header): sets (mixHigh, mixLow). Exported for tests
 * through `lackeyStoreSeed`.
 */
function storeSeed(prevHigh: number, prevLow: number, addrHigh: number, addrLow: number, size: number, stores: number): void {
  mixState[0] = prevHigh ^ addrHigh;
  mixState[1] = prevLow ^ addrLow;
  mix64();
  const low = ((mixState[1] as number) ^ stores) >>> 0;
  const sum = low + 0x7f4a7c15;
  mixState[1] = sum;
  mixState[0] = ((mixState[0] as number) ^ size) + 0x9e3779b9 + (sum > 0xffffffff ? 1 : 0);
  mix64();
}

/** The content seed a store gives a page (for tests and tools). */
export function lackeyStoreSeed(previous: bigint, address: bigint, size: number, stores: number): bigint {
  const prev = BigInt.asUintN(64, previous);
  const addr = BigInt.asUintN(64, address);
  storeSeed(Number(prev >> 32n), Number(prev & 0xffffffffn), Number(addr >> 32n), Number(addr & 0xffffffffn), size >>> 0, stores >>> 0);
  return (BigInt(mixState[0] as number) << 32n) | BigInt(mixState[1] as number);
}

// ---- virtual page -> GPN -----------------------------------------------------------------------

/** Open addressing over (high, low) words of virtual page numbers; values are GPNs. */
class PageMap {
  private high: Uint32Array;
  private low: Uint32Array;
  /** GPN + 1; 0 marks an empty slot. */
  private value: Float64Array;
  private mask: number;
  size = 0;

  constructor(capacity = 1024) {
    this.high = new Uint32Array(capacity);
    this.low = new Uint32Array(capacity);
    this.value = new Float64Array(capacity);
    this.mask = capacity - 1;
  }

  private static hash(high: number, low: number): number {
    let h = Math.imul(low ^ Math.imul(high, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** The GPN of a page, or -1. */
  get(high: number, low: number): number {
    let i = PageMap.hash(high, low) & this.mask;
    for (;;) {
      const v = this.value[i] as number;
      if (v === 0) return -1;
      if (this.low[i] === low && this.high[i] === high) return v - 1;
      i = (i + 1) & this.mask;
    }
  }

  set(high: number, low: number, gpn: number): void {
    if ((this.size + 1) * 2 > this.value.length) this.grow();
    let i = PageMap.hash(high, low) & this.mask;
    while (this.value[i] !== 0) i = (i + 1) & this.mask;
    this.high[i] = high;
    this.low[i] = low;
    this.value[i] = gpn + 1;
    this.size++;
  }

  private grow(): void {
    const { high, low, value } = this;
    const capacity = value.length * 2;
    this.high = new Uint32Array(capacity);
    this.low = new Uint32Array(capacity);
    this.value = new Float64Array(capacity);
    this.mask = capacity - 1;
    this.size = 0;
    for (let i = 0; i < value.length; i++) if (value[i] !== 0) this.set(high[i] as number, low[i] as number, (value[i] as number) - 1);
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

// ---- the reader --------------------------------------------------------------------------------

/** Opens a lackey trace for streaming as one VM. */
export async function openLackeyTrace(path: string, options: LackeyOptions = {}): Promise<TraceSource> {
  const vmPages = options.vmPages ?? LACKEY_DEFAULT_VM_PAGES;
  const rate = options.rate ?? LACKEY_DEFAULT_RATE;
  const vmName = options.vmName ?? "vm1";
  const chunkEvents = Math.max(options.chunkEvents ?? 65536, 4 * MAX_SPAN);
  if (!Number.isInteger(vmPages) || vmPages < 1 || vmPages > 0xffffffff) throw new RangeError(`lackey VM size: expected 1 to 2^32-1 pages, found ${vmPages}`);
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`lackey rate: expected a positive number of records per second, found ${rate}`);
  const probe = await LineReader.open(path);
  let totalBytes: number;
  try {
    totalBytes = await probe.size();
  } finally {
    await probe.close();
  }
  const header: TraceHeader = { vms: [{ name: vmName, pages: vmPages }] };
  let bytesRead = 0;
  return {
    path,
    format: "lackey",
    header,
    totalBytes,
    get bytesRead() {
      return bytesRead;
    },
    async *chunks() {
      const lines = await LineReader.open(path, 0, 0, MAX_LINE_BYTES);
      const validator = new EventValidator(path, header, (line) => `line ${line}`);
      const chunk = new TraceChunk(chunkEvents);
      const pagesMap = new PageMap();
      let seedLow: Uint32Array = new Uint32Array(1024);
      let seedHigh: Uint32Array = new Uint32Array(1024);
      let stores: Uint32Array = new Uint32Array(1024);
      let nextGpn = 0;
      let records = 0;
      let lastGpn = -1;
      let cachedHigh = -1;
      let cachedLow = -1;
      let cachedGpn = -1;
      let overflowLine = 0;
      const fail = (line: number, message: string): never => {
        throw new TraceFormatError(path, `line ${line}`, message);
      };
      const badLine = (b: Uint8Array, s: number, e: number, line: number, why: string): never =>
        fail(line, `${why}: expected a lackey record ("I  0023C790,2", " L 0025747C,4", " S ...", " M ...") or a valgrind "==" line, found ${quoteBytes(b, s, e, 60)}`);
      try {
        for (;;) {
          while (lines.next()) {
            const b = lines.bytes;
            const s = lines.lineStart;
            const e = lines.lineEnd;
            const line = lines.line;
            if (e - s >= 2 && b[s] === 0x3d && b[s + 1] === 0x3d) continue;
            let p = s;
            while (p < e && (b[p] === 0x20 || b[p] === 0x09)) p++;
            if (p === e) continue;
            const kind = b[p] as number;
            if (kind !== 0x49 && kind !== 0x4c && kind !== 0x53 && kind !== 0x4d) badLine(b, s, e, line, "kind");
            p++;
            if (p >= e || (b[p] !== 0x20 && b[p] !== 0x09)) badLine(b, s, e, line, "kind");
            while (p < e && (b[p] === 0x20 || b[p] === 0x09)) p++;
            // Address: hex digits. The last three are the offset in the page and the rest the page
            // number: each digit shifts into the 12-bit offset, and the one leaving it into the page.
            const digitsStart = p;
            let pageHigh = 0;
            let pageLow = 0;
            let offset = 0;
            let significant = 0;
            while (p < e) {
              const d = hexDigit(b[p] as number);
              if (d < 0) break;
              pageHigh = ((pageHigh << 4) | (pageLow >>> 28)) >>> 0;
              pageLow = ((pageLow << 4) | (offset >>> 8)) >>> 0;
              offset = ((offset << 4) & 0xfff) | d;
              if (significant > 0 || d !== 0) significant++;
              p++;
            }
            if (p === digitsStart) badLine(b, s, e, line, "address");
            if (significant > 16) fail(line, `address: expected at most 16 hex digits (64 bits), found ${quoteBytes(b, digitsStart, p)}`);
            if (p >= e || b[p] !== 0x2c) badLine(b, s, e, line, "address");
            p++;
            const sizeStart = p;
            let size = 0;
            while (p < e) {
              const c = b[p] as number;
              if (c < 0x30 || c > 0x39) break;
              if (size <= LACKEY_MAX_SIZE) size = size * 10 + (c - 0x30);
              p++;
            }
            if (p === sizeStart) badLine(b, s, e, line, "size");
            while (p < e && (b[p] === 0x20 || b[p] === 0x09)) p++;
            if (p !== e) badLine(b, s, e, line, "unexpected text");
            if (size < 1 || size > LACKEY_MAX_SIZE) fail(line, `size: expected 1..${LACKEY_MAX_SIZE} bytes, found ${quoteBytes(b, sizeStart, e)}`);
            const span = ((offset + size - 1) >>> 12) + 1;
            const timeMs = Math.floor((records * 1000) / rate);
            records++;
            const store = kind === 0x53 || kind === 0x4d;
            // Bytes of the access not yet attributed to a page.
            let remaining = size;
            for (let k = 0; k < span; k++) {
              if (k > 0) {
                pageLow = (pageLow + 1) >>> 0;
                if (pageLow === 0) pageHigh++;
                if (pageHigh > MAX_PAGE_HIGH) fail(line, "address: the access runs past the end of the 64-bit address space");
              }
              let gpn: number;
              if (pageHigh === cachedHigh && pageLow === cachedLow) {
                gpn = cachedGpn;
              } else {
                gpn = pagesMap.get(pageHigh, pageLow);
                if (gpn < 0) {
                  gpn = nextGpn++;
                  pagesMap.set(pageHigh, pageLow, gpn);
                  if (gpn >= vmPages) {
                    if (overflowLine === 0) overflowLine = line;
                  } else if (gpn >= seedLow.length) {
                    const grow = (old: Uint32Array): Uint32Array => {
                      const bigger = new Uint32Array(Math.min(Math.max(old.length * 2, 1024), vmPages));
                      bigger.set(old);
                      return bigger;
                    };
                    seedLow = grow(seedLow);
                    seedHigh = grow(seedHigh);
                    stores = grow(stores);
                  }
                }
                cachedHigh = pageHigh;
                cachedLow = pageLow;
                cachedGpn = gpn;
              }
              if (overflowLine !== 0) continue;
              if (!store) {
                if (gpn === lastGpn) continue;
                validator.check(line, timeMs, 0, TraceOp.touch, gpn, 1);
                chunk.push(timeMs, 0, TraceOp.touch, gpn, 1);
              } else {
                // The part of the access on this page: its first address and its length.
                const partOffset = k === 0 ? offset : 0;
                const partSize = Math.min(remaining, 4096 - partOffset);
                remaining -= partSize;
                const addrLow = ((pageLow << 12) | partOffset) >>> 0;
                const addrHigh = ((pageHigh << 12) | (pageLow >>> 20)) >>> 0;
                storeSeed(seedHigh[gpn] as number, seedLow[gpn] as number, addrHigh, addrLow, partSize, stores[gpn] as number);
                const high = mixState[0] as number;
                const low = mixState[1] as number;
                seedHigh[gpn] = high;
                seedLow[gpn] = low;
                stores[gpn] = ((stores[gpn] as number) + 1) >>> 0;
                validator.check(line, timeMs, 0, TraceOp.write, gpn, 1);
                chunk.push(timeMs, 0, TraceOp.write, gpn, 1, low, high);
              }
              lastGpn = gpn;
            }
            if (chunk.count + MAX_SPAN > chunk.capacity) {
              bytesRead = lines.offset;
              yield chunk;
              chunk.clear();
            }
          }
          if (!(await lines.fill())) break;
        }
        bytesRead = lines.offset;
        if (overflowLine !== 0) {
          const needed = nextGpn;
          fail(
            overflowLine,
            `the trace uses ${needed} distinct 4 KiB pages (${(needed / 256).toFixed(1)} MiB) but VM "${vmName}" has ${vmPages} pages ` +
              `(${(vmPages / 256).toFixed(1)} MiB): give it at least ${Math.ceil(needed / 256)} MiB (--lackey-vm-mib)`,
          );
        }
        if (chunk.count > 0) yield chunk;
      } finally {
        await lines.close();
      }
    },
  };
}
