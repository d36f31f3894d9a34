// Page comparison throughput: our WASM kernels (comparePagesBatch / zeroPagesBatch, 4096 pages
// per call, as the sharing scan calls them from inside the core) against Node's native
// Buffer.compare and Buffer.equals (memcmp), one call per page pair.
//
//   npx tsx bench/compare.bench.ts         prints the table (COMPARE_BENCH_MIB=64 for a quicker run)
//
// Data: two copies of COMPARE_BENCH_MIB MiB (default 256) of seeded random pages in the core's
// memory, so every pair is equal: the worst case, every byte is read. The zero-page rows test
// all-zero pages (also the worst case) against a zero page for the peers. "cold" rows stream over
// all of it (DRAM-bound: every contender gets about the same); "hot" rows loop over the first
// 128 KiB of each side (256 KiB for the zero check). GB/s = 10^9 bytes of page per second, counting
// one side of each pair, the median over rounds that alternate the contenders, after a warm-up.
import { fileURLToPath } from "node:url";
import { loadCore } from "../src/core/wasm.ts";
import { fillRandom } from "./hash.bench.ts";
import { measurePages, printRows, type Contender } from "./report.ts";
import type { BenchRow } from "./types.ts";

const PAGE = 4096;
const BATCH_PAGES = 4096;
/** Hot working sets: 256 KiB in all, well inside a 512 KiB per-core L2 (a set as large as L2 thrashes it). */
const HOT_PAIRS = 32;
const HOT_PAGES = 64;
/** Space between the two sides of the pairs (see run()). */
const B_GAP = 17 * PAGE;

export async function run(): Promise<BenchRow[]> {
  const mib = Number(process.env.COMPARE_BENCH_MIB ?? "256");
  const totalPages = Math.max(BATCH_PAGES, Math.round((mib * 1024 * 1024) / PAGE / BATCH_PAGES) * BATCH_PAGES);
  const bytes = totalPages * PAGE;
  const instance = loadCore();
  const core = instance.exports;
  // Pages A, their copies B, and all-zero pages Z. B starts B_GAP after the end of A: two load
  // streams a power of two (here 2^28) apart alias in the L1 way predictor of AMD Zen cores and
  // halve the speed of every contender, which is not the case a page comparison normally meets.
  const a = core.scratchReserve(3 * bytes + B_GAP) >>> 0;
  if (a === 0) throw new Error("scratchReserve failed");
  const b = a + bytes + B_GAP;
  const z = b + bytes;
  // The memory does not grow after this: views stay valid.
  const buffer = core.memory.buffer;
  fillRandom(new Uint32Array(buffer, a, bytes / 4), 0xc0de);
  new Uint8Array(buffer, b, bytes).set(new Uint8Array(buffer, a, bytes));
  new Uint8Array(buffer, z, bytes).fill(0);
  const viewsOf = (at: number): Buffer[] => Array.from({ length: totalPages }, (_, p) => Buffer.from(buffer, at + p * PAGE, PAGE));
  const pagesA = viewsOf(a);
  const pagesB = viewsOf(b);
  const pagesZ = viewsOf(z);
  const zeroPage = Buffer.alloc(PAGE);
  const none = Buffer.alloc(0);

  // Agreement check (outside the timings).
  if (core.comparePagesBatch(a, b, totalPages) !== totalPages) throw new Error("ours: equal pages reported unequal");
  if (core.zeroPagesBatch(z, totalPages) !== totalPages) throw new Error("ours: zero pages reported nonzero");
  if (core.zeroPagesBatch(a, BATCH_PAGES) !== 0) throw new Error("ours: random pages reported zero");

  let equalCount = 0;
  const expectAll = (counted: number, pages: number): void => {
    if (counted !== pages) throw new Error(`expected ${pages} equal pages, got ${counted}`);
  };
  const pairContenders: Contender[] = [
    { name: "ours", pass: (first, pages) => expectAll(core.comparePagesBatch(a + first * PAGE, b + first * PAGE, pages), pages) },
    {
      name: "Buffer.compare",
      pass: (first, pages) => {
        for (let p = first; p < first + pages; p++) if (Buffer.compare(pagesA[p] ?? none, pagesB[p] ?? none) === 0) equalCount++;
      },
    },
    {
      name: "Buffer.equals",
      pass: (first, pages) => {
        for (let p = first; p < first + pages; p++) if ((pagesA[p] ?? none).equals(pagesB[p] ?? none)) equalCount++;
      },
    },
  ];
  const zeroContenders: Contender[] = [
    { name: "ours", pass: (first, pages) => expectAll(core.zeroPagesBatch(z + first * PAGE, pages), pages) },
    {
      name: "Buffer.compare",
      pass: (first, pages) => {
        for (let p = first; p < first + pages; p++) if (Buffer.compare(pagesZ[p] ?? none, zeroPage) === 0) equalCount++;
      },
    },
    {
      name: "Buffer.equals",
      pass: (first, pages) => {
        for (let p = first; p < first + pages; p++) if ((pagesZ[p] ?? none).equals(zeroPage)) equalCount++;
      },
    },
  ];
  const rows: BenchRow[] = [];
  const add = (name: string, results: Map<string, number>, target?: string): void => {
    const peers: Record<string, number> = {};
    for (const [peer, gbps] of results) if (peer !== "ours") peers[peer] = gbps;
    rows.push({ name, unit: "GB/s", ours: results.get("ours") ?? 0, peers, ...(target ? { target } : {}) });
  };
  const coldLabel = `${bytes / 2 ** 20} MiB`;
  const target = ">= 1.5x Buffer.compare";
  add(`compare equal 4K page pairs: comparePagesBatch, cold ${coldLabel}`, measurePages(pairContenders, totalPages, totalPages), target);
  add(`compare equal 4K page pairs: comparePagesBatch, hot 2x128 KiB`, measurePages(pairContenders, HOT_PAIRS, 8 * BATCH_PAGES), target);
  add(`zero check 4K zero pages: zeroPagesBatch, cold ${coldLabel}`, measurePages(zeroContenders, totalPages, totalPages));
  add(`zero check 4K zero pages: zeroPagesBatch, hot 256 KiB`, measurePages(zeroContenders, HOT_PAGES, 8 * BATCH_PAGES));
  if (equalCount === 0.5) console.log(equalCount);
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
