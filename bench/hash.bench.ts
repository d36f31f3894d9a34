// Page hashing throughput: our WASM kernels (batch exports, 4096 pages per call, as the sharing
// scan calls them from inside the core) against xxhash-wasm (h64Raw, one call per page: it copies
// the page into its own memory) and @node-rs/xxhash (native, one N-API call per page).
//
//   npx tsx bench/hash.bench.ts            prints the table (HASH_BENCH_MIB=64 for a quicker run)
//
// Data: HASH_BENCH_MIB MiB (default 256) of seeded random pages, generated once in the core's memory;
// every contender reads the same bytes (the peers through Uint8Array views of that memory).
// "cold" rows stream over all of it (DRAM-bound: the sharing scan's case); "hot" rows loop over the
// first 256 KiB (L2-resident: the kernels' own speed). GB/s = 10^9 bytes of page hashed per second,
// the median over rounds that alternate the contenders, after a warm-up that lets V8 tier up.
import { xxh3, xxh64 as nodeRsXxh64 } from "@node-rs/xxhash";
import { fileURLToPath } from "node:url";
import xxhash from "xxhash-wasm";
import { loadCore } from "../src/core/wasm.ts";
import type { BenchRow } from "./types.ts";
import { measurePages, printRows, type Contender } from "./report.ts";

const PAGE = 4096;
/** Pages per call of our batch exports. */
const BATCH_PAGES = 4096;
/** The hot working set: 64 pages = 256 KiB, well inside a 512 KiB per-core L2 (a set as large as L2 thrashes it). */
const HOT_PAGES = 64;
const SEED = 0x5eed_0001n;
const NODE_RS = "@node-rs/xxhash xxh64";
const NODE_RS_XXH3 = "@node-rs/xxhash xxh3_64";
const XXHASH_WASM = "xxhash-wasm h64Raw";

/** xorshift32 over u32 words: fast enough to fill 256 MiB, and seeded. */
export function fillRandom(words: Uint32Array, seed: number): void {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s;
  }
}

export async function run(): Promise<BenchRow[]> {
  const mib = Number(process.env.HASH_BENCH_MIB ?? "256");
  const totalPages = Math.max(BATCH_PAGES, Math.round((mib * 1024 * 1024) / PAGE / BATCH_PAGES) * BATCH_PAGES);
  const instance = loadCore();
  const core = instance.exports;
  const base = core.scratchReserve(totalPages * PAGE + BATCH_PAGES * 8) >>> 0;
  if (base === 0) throw new Error("scratchReserve failed");
  const out = base + totalPages * PAGE;
  // The memory does not grow after this: views stay valid.
  const buffer = core.memory.buffer;
  fillRandom(new Uint32Array(buffer, base, (totalPages * PAGE) / 4), 0x9a6e);
  const views = Array.from({ length: totalPages }, (_, p) => new Uint8Array(buffer, base + p * PAGE, PAGE));
  const empty = new Uint8Array(0);
  const view = (p: number): Uint8Array => views[p] ?? empty;
  const wasmXxh = await xxhash();

  // Agreement check (outside the timings): every contender computes the same hashes.
  core.xxh3Pages(base, 64, out);
  const ours3 = new BigUint64Array(buffer, out, 64).slice();
  core.xxh64Pages(base, 64, SEED, out);
  const ours64 = new BigUint64Array(buffer, out, 64).slice();
  for (let p = 0; p < 64; p++) {
    if (ours3[p] !== xxh3.xxh64(view(p))) throw new Error(`page ${p}: xxh3 differs from @node-rs/xxhash`);
    if (ours64[p] !== nodeRsXxh64(view(p), SEED) || ours64[p] !== wasmXxh.h64Raw(view(p), SEED)) {
      throw new Error(`page ${p}: xxh64 differs from a peer`);
    }
  }

  let sink = 0n;
  const perPage = (hash: (page: Uint8Array) => bigint): Contender["pass"] => (first, pages) => {
    for (let p = first; p < first + pages; p++) sink ^= hash(view(p));
  };
  const xxh3Contenders: Contender[] = [
    { name: "ours", pass: (first, pages) => core.xxh3Pages(base + first * PAGE, pages, out) },
    { name: XXHASH_WASM, pass: perPage((page) => wasmXxh.h64Raw(page, SEED)) },
    { name: NODE_RS, pass: perPage((page) => nodeRsXxh64(page, SEED)) },
    { name: NODE_RS_XXH3, pass: perPage((page) => xxh3.xxh64(page)) },
  ];
  const xxh64Contenders: Contender[] = [
    { name: "ours", pass: (first, pages) => core.xxh64Pages(base + first * PAGE, pages, SEED, out) },
    { name: XXHASH_WASM, pass: perPage((page) => wasmXxh.h64Raw(page, SEED)) },
    { name: NODE_RS, pass: perPage((page) => nodeRsXxh64(page, SEED)) },
  ];
  const target = ">= 2x xxhash-wasm h64, >= 1.5x @node-rs/xxhash xxh64";
  const rows: BenchRow[] = [];
  const add = (name: string, results: Map<string, number>, rowTarget?: string): void => {
    const peers: Record<string, number> = {};
    for (const [peer, gbps] of results) if (peer !== "ours") peers[peer] = gbps;
    rows.push({ name, unit: "GB/s", ours: results.get("ours") ?? 0, peers, ...(rowTarget ? { target: rowTarget } : {}) });
  };
  const coldLabel = `${(totalPages * PAGE) / 2 ** 20} MiB`;
  add(`hash 4K pages: xxh3Pages (XXH3-64 SIMD), cold ${coldLabel}`, measurePages(xxh3Contenders, totalPages, totalPages), target);
  add(`hash 4K pages: xxh64Pages (XXH64), cold ${coldLabel}`, measurePages(xxh64Contenders, totalPages, totalPages));
  add(`hash 4K pages: xxh3Pages (XXH3-64 SIMD), hot 256 KiB`, measurePages(xxh3Contenders, HOT_PAGES, 8 * BATCH_PAGES), target);
  add(`hash 4K pages: xxh64Pages (XXH64), hot 256 KiB`, measurePages(xxh64Contenders, HOT_PAGES, 8 * BATCH_PAGES));
  if (sink === 1n) console.log(sink);
  return rows;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(2);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
