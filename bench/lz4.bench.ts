// LZ4 block compression and decompression of 4 KiB pages: our WASM core (batch exports, as the
// compression cache calls it from inside the core) against lz4-napi (lz4_flex in Rust, one N-API
// call per page) and lz4js (plain JavaScript, one call per page). Three page kinds: text-like
// (seeded English-ish words), random (incompressible) and zero.
//
//   npx tsx bench/lz4.bench.ts             prints the table (LZ4_BENCH_MIB=64 for a quicker run)
//
// Each (operation, kind) processes LZ4_BENCH_MIB MiB (default 256) per contender, in rounds that
// alternate the contenders; the reported MB/s (10^6 bytes of uncompressed page per second) is the
// median over the rounds. lz4js is about an order of magnitude slower, so it processes a quarter
// of that. Every contender decodes the same blocks (ours); the compressors are checked to round-trip.
import { lz4Napi, lz4js } from "../test/helpers/lz4-oracles.ts";
import { fileURLToPath } from "node:url";
import { loadCore, type CoreExports } from "../src/core/wasm.ts";
import type { BenchRow } from "./types.ts";
import { median, printRows } from "./report.ts";
import { Random } from "../src/sim/random.ts";

const PAGE = 4096;
/** The cache's threshold: a page is kept compressed when its block is at most this. */
const COMPRESSIBLE_CAP = 2048;
/** Room for any 4 KiB block (LZ4_compressBound(4096) = 4096 + 4096/255 + 16). */
const BOUND_CAP = 4128;
const BOUND_STRIDE = 4352;
/** Distinct pages per kind (4 MiB: larger than L2, like a real scan over guest memory). */
const WORKING_PAGES = 1024;
/** Pages per call of our batch exports. */
const BATCH_PAGES = 64;
const ROUNDS = 8;
const WARMUP_PASSES = 3;
const LZ4JS_SHARE = 4;

type PageKind = "text-like" | "random" | "zero";
const KINDS: readonly PageKind[] = ["text-like", "random", "zero"];

// ---------------------------------------------------------------------------------------------
// Seeded page generators

/** Uniform floats in [0, 1) from the project's seeded generator. */
function floatsFrom(seed: number): () => number {
  const random = new Random(seed);
  return () => random.nextFloat();
}

const WORDS = (
  "the of and to in a is that for it as was with be by on not he this are or his from at which but have an " +
  "they you were her she there been one all we their has would when if so no will more can out into up " +
  "memory page guest host machine virtual balloon swap share compress cache frame table hypervisor kernel " +
  "process thread buffer socket request response server client database index record value number string " +
  "system network file disk block sector driver device interrupt schedule timer clock queue list tree node " +
  "however therefore because although between during without within another several important possible"
).split(" ");

/** Each word's two usual successors: a fixed bigram model, so pages repeat phrases like real text. */
const SUCCESSORS: readonly (readonly number[])[] = (() => {
  const rng = floatsFrom(99);
  return WORDS.map(() => [Math.floor(rng() * WORDS.length), Math.floor(rng() * WORDS.length)]);
})();
/** How often the next word is one of the usual successors (0.85: ~2000-byte blocks, like READMEs). */
const FOLLOW_PROBABILITY = 0.85;

/** One 4 KiB page of English-ish text: bigram phrases, Zipf-like other words, punctuation, lines. */
function textPage(rng: () => number, out: Uint8Array, at: number): void {
  let line = 0;
  let capital = true;
  let word = 0;
  let i = 0;
  while (i < PAGE) {
    const next = rng() < FOLLOW_PROBABILITY ? SUCCESSORS[word]?.[rng() < 0.5 ? 0 : 1] : undefined;
    word = next ?? Math.floor(WORDS.length * rng() * rng());
    const text = WORDS[word] ?? "the";
    for (let c = 0; c < text.length && i < PAGE; c++, i++) {
      const code = text.charCodeAt(c);
      out[at + i] = capital && c === 0 ? code - 32 : code;
    }
    capital = false;
    line += text.length + 1;
    const r = rng();
    const sep = r < 0.05 ? ". " : r < 0.08 ? ", " : line > 72 ? "\n" : " ";
    if (sep === ". ") capital = true;
    if (sep === "\n") line = 0;
    for (let c = 0; c < sep.length && i < PAGE; c++, i++) out[at + i] = sep.charCodeAt(c);
  }
}

function makePages(kind: PageKind, count: number, seed: number): Uint8Array {
  const data = new Uint8Array(count * PAGE);
  const rng = floatsFrom(seed);
  for (let p = 0; p < count; p++) {
    if (kind === "text-like") textPage(rng, data, p * PAGE);
    else if (kind === "random") for (let i = 0; i < PAGE; i++) data[p * PAGE + i] = (rng() * 256) | 0;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Measurement

type Contender = { name: string; pass: (pages: number) => void };


/** MB/s (median over rounds) of each contender processing `totalPages` pages (lz4js: a share). */
function measure(contenders: Contender[], totalPages: number): Map<string, number> {
  for (const c of contenders) for (let w = 0; w < WARMUP_PASSES; w++) c.pass(WORKING_PAGES);
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length];
      if (!c) continue;
      const pages = Math.max(WORKING_PAGES, Math.round(totalPages / ROUNDS / (c.name === "lz4js" ? LZ4JS_SHARE : 1)));
      const start = performance.now();
      let done = 0;
      while (done < pages) {
        const n = Math.min(WORKING_PAGES, pages - done);
        c.pass(n);
        done += n;
      }
      const seconds = (performance.now() - start) / 1000;
      samples.get(c.name)?.push((done * PAGE) / seconds / 1e6);
    }
  }
  return new Map([...samples].map(([name, mbps]) => [name, median(mbps)]));
}

// ---------------------------------------------------------------------------------------------
// The benchmark

interface Workspace {
  core: CoreExports;
  memory: () => Uint8Array;
  srcPtr: number;
  dstPtr: number;
  sizesPtr: number;
  outPtr: number;
  resultsPtr: number;
}

function workspace(): Workspace {
  const instance = loadCore();
  const core = instance.exports;
  const srcBytes = WORKING_PAGES * PAGE;
  const dstBytes = WORKING_PAGES * BOUND_STRIDE;
  const base = core.scratchReserve(srcBytes + dstBytes + srcBytes + 2 * WORKING_PAGES * 4) >>> 0;
  if (base === 0) throw new Error("scratchReserve failed");
  return {
    core,
    memory: () => instance.bytes(),
    srcPtr: base,
    dstPtr: base + srcBytes,
    outPtr: base + srcBytes + dstBytes,
    sizesPtr: base + srcBytes + dstBytes + srcBytes,
    resultsPtr: base + srcBytes + dstBytes + srcBytes + WORKING_PAGES * 4,
  };
}

function sizesOf(ws: Workspace): Int32Array {
  return new Int32Array(ws.core.memory.buffer, ws.sizesPtr, WORKING_PAGES).slice();
}

export async function run(): Promise<BenchRow[]> {
  const mib = Number(process.env.LZ4_BENCH_MIB ?? "256");
  const totalPages = Math.max(WORKING_PAGES, Math.round((mib * 1024 * 1024) / PAGE));
  const ws = workspace();
  const { core } = ws;
  const rows: BenchRow[] = [];
  // lz4js needs a zeroed table per block (a stale entry equal to the current position makes it
  // emit an offset-0 match): its own frame compressor clears it per block too.
  const hashTable = new Uint32Array(1 << 16);
  const jsOut = new Uint8Array(BOUND_CAP);
  const pageOut = new Uint8Array(PAGE);
  let sink = 0;

  for (const [index, kind] of KINDS.entries()) {
    const data = makePages(kind, WORKING_PAGES, 0x4c5a34 + index);
    ws.memory().set(data, ws.srcPtr);
    const pageBuffers = Array.from({ length: WORKING_PAGES }, (_, p) => Buffer.from(data.buffer, p * PAGE, PAGE));
    const pageViews = Array.from({ length: WORKING_PAGES }, (_, p) => data.subarray(p * PAGE, (p + 1) * PAGE));

    // Our blocks with room for anything (for the decoders), and the real-use verdict at cap 2048.
    core.lz4CompressPages(ws.srcPtr, WORKING_PAGES, ws.dstPtr, BOUND_STRIDE, BOUND_CAP, ws.sizesPtr);
    const blockSizes = sizesOf(ws);
    const blocks = Array.from({ length: WORKING_PAGES }, (_, p) => {
      const size = blockSizes[p] ?? 0;
      if (size <= 0) throw new Error(`${kind} page ${p}: no block`);
      const start = ws.dstPtr + p * BOUND_STRIDE;
      return ws.memory().slice(start, start + size);
    });
    const prefixed = blocks.map((block) => {
      const withSize = Buffer.alloc(4 + block.length);
      withSize.writeUInt32LE(PAGE, 0);
      withSize.set(block, 4);
      return withSize;
    });
    // Round-trip checks (outside the timings).
    core.lz4CompressPages(ws.srcPtr, WORKING_PAGES, ws.dstPtr, BOUND_STRIDE, BOUND_CAP, ws.sizesPtr);
    core.lz4DecompressPages(ws.dstPtr, WORKING_PAGES, BOUND_STRIDE, ws.sizesPtr, ws.outPtr, ws.resultsPtr);
    const decoded = ws.memory().subarray(ws.outPtr, ws.outPtr + WORKING_PAGES * PAGE);
    if (Buffer.compare(decoded, data) !== 0) throw new Error(`${kind}: our round trip differs`);
    for (let p = 0; p < 8; p++) {
      const napiBlock = lz4Napi.compressSync(pageBuffers[p] ?? Buffer.alloc(0));
      if (Buffer.compare(lz4Napi.uncompressSync(napiBlock), pageViews[p] ?? new Uint8Array()) !== 0) {
        throw new Error(`${kind}: lz4-napi round trip differs`);
      }
    }

    // --- compress
    const compress = measure(
      [
        {
          name: "ours",
          pass: (pages) => {
            for (let done = 0; done < pages; done += BATCH_PAGES) {
              const n = Math.min(BATCH_PAGES, pages - done);
              core.lz4CompressPages(ws.srcPtr + done * PAGE, n, ws.dstPtr, BOUND_STRIDE, COMPRESSIBLE_CAP, ws.sizesPtr);
            }
          },
        },
        ...(kind === "random"
          ? [
              {
                name: "ours (no cap)",
                pass: (pages: number) => {
                  for (let done = 0; done < pages; done += BATCH_PAGES) {
                    const n = Math.min(BATCH_PAGES, pages - done);
                    core.lz4CompressPages(ws.srcPtr + done * PAGE, n, ws.dstPtr, BOUND_STRIDE, BOUND_CAP, ws.sizesPtr);
                  }
                },
              },
            ]
          : []),
        {
          name: "lz4-napi",
          pass: (pages) => {
            for (let p = 0; p < pages; p++) sink += lz4Napi.compressSync(pageBuffers[p % WORKING_PAGES] ?? Buffer.alloc(0)).length;
          },
        },
        {
          name: "lz4js",
          pass: (pages) => {
            for (let p = 0; p < pages; p++) {
              hashTable.fill(0);
              sink += lz4js.compressBlock(pageViews[p % WORKING_PAGES] ?? jsOut, jsOut, 0, PAGE, hashTable);
            }
          },
        },
      ],
      totalPages,
    );
    const label = kind === "random" ? `random (ours: cap ${COMPRESSIBLE_CAP}, early abort)` : kind;
    rows.push({
      name: `lz4 compress 4K ${label}`,
      unit: "MB/s",
      ours: compress.get("ours") ?? 0,
      peers: { "lz4-napi": compress.get("lz4-napi") ?? 0, lz4js: compress.get("lz4js") ?? 0 },
      ...(kind === "text-like" ? { target: ">= 1.3x lz4-napi" } : {}),
    });
    if (kind === "random") {
      rows.push({
        name: "lz4 compress 4K random (ours: no cap, stored as literals)",
        unit: "MB/s",
        ours: compress.get("ours (no cap)") ?? 0,
        peers: { "lz4-napi": compress.get("lz4-napi") ?? 0, lz4js: compress.get("lz4js") ?? 0 },
      });
    }

    // --- decompress (everyone decodes our blocks)
    const blockAt = (p: number): number => ws.dstPtr + p * BOUND_STRIDE;
    core.lz4CompressPages(ws.srcPtr, WORKING_PAGES, ws.dstPtr, BOUND_STRIDE, BOUND_CAP, ws.sizesPtr);
    const decompress = measure(
      [
        {
          name: "ours",
          pass: (pages) => {
            for (let done = 0; done < pages; done += BATCH_PAGES) {
              const n = Math.min(BATCH_PAGES, pages - done);
              core.lz4DecompressPages(blockAt(done), n, BOUND_STRIDE, ws.sizesPtr + done * 4, ws.outPtr + done * PAGE, ws.resultsPtr);
            }
          },
        },
        {
          name: "lz4-napi",
          pass: (pages) => {
            for (let p = 0; p < pages; p++) sink += lz4Napi.uncompressSync(prefixed[p % WORKING_PAGES] ?? Buffer.alloc(4)).length;
          },
        },
        {
          name: "lz4js",
          pass: (pages) => {
            for (let p = 0; p < pages; p++) {
              const block = blocks[p % WORKING_PAGES] ?? new Uint8Array(1);
              sink += lz4js.decompressBlock(block, pageOut, 0, block.length, 0);
            }
          },
        },
      ],
      totalPages,
    );
    rows.push({
      name: `lz4 decompress 4K ${kind}`,
      unit: "MB/s",
      ours: decompress.get("ours") ?? 0,
      peers: { "lz4-napi": decompress.get("lz4-napi") ?? 0, lz4js: decompress.get("lz4js") ?? 0 },
    });

    // --- sizes (not a speed: average block bytes per page, lower is better)
    let oursSum = 0;
    let napiSum = 0;
    let jsSum = 0;
    for (let p = 0; p < WORKING_PAGES; p++) {
      napiSum += lz4Napi.compressSync(pageBuffers[p] ?? Buffer.alloc(0)).length - 4;
      hashTable.fill(0);
      const js = lz4js.compressBlock(pageViews[p] ?? jsOut, jsOut, 0, PAGE, hashTable);
      jsSum += js === 0 ? PAGE + 1 + 16 : js; // lz4js returns 0 when it finds no match
      oursSum += blockSizes[p] ?? 0;
    }
    if (kind !== "random") {
      rows.push({
        name: `lz4 block size 4K ${kind} (bytes/page, lower is better)`,
        unit: "B",
        ours: oursSum / WORKING_PAGES,
        peers: { "lz4-napi": napiSum / WORKING_PAGES, lz4js: jsSum / WORKING_PAGES },
      });
    }
  }
  if (sink === 0.5) console.log(sink);
  return rows;
}


if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  printRows(rows);
}
