// Sharing-scan throughput, in guest pages per second, on pages with little sharing.
//
//   npx tsx bench/scan.bench.ts           (SCAN_BENCH_MIB=64 for a quicker run; default 256)
//
// Data: SCAN_BENCH_MIB of pages, 95% distinct random content and 5% copies of other pages, in one
// VM. Three figures for ours: the first full pass (every page hashed; DRAM-bound), the whole scan
// to convergence (two passes), and a steady rescan of the converged, unchanged memory (the core
// knows which pages were written since they were hashed, so unchanged pages are not re-hashed).
// Peers, on the same bytes, run the same algorithm (hash every page, look up, compare on a hit,
// remember the page otherwise) in JavaScript with a Map and the fastest hash each library has.
import { xxh64 as nodeRsXxh64 } from "@node-rs/xxhash";
import { fileURLToPath } from "node:url";
import xxhash from "xxhash-wasm";
import { Machine } from "../src/core/machine.ts";
import { Random } from "../src/sim/random.ts";
import { median, printRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

const PAGE = 4096;
const ROUNDS = 3;

interface Workload {
  readonly pages: number;
  readonly seeds: BigUint64Array;
}

function makeWorkload(pages: number): Workload {
  const random = new Random(0x5ca9n);
  const seeds = new BigUint64Array(pages);
  for (let i = 0; i < pages; i++) {
    // 5% of pages repeat an earlier page's content; the rest are distinct incompressible pages.
    seeds[i] = i > 0 && random.nextFloat() < 0.05 ? (seeds[random.nextInt(i)] ?? 1n) : BigInt(i + 1) & ((1n << 62n) - 1n);
  }
  return { pages, seeds };
}

function loadMachine(workload: Workload): Machine {
  const machine = Machine.create({ frames: workload.pages + 16 });
  const vm = machine.addVm({ pages: workload.pages });
  const gpns = new Uint32Array(workload.pages).map((_, i) => i);
  const low = new Uint32Array(workload.pages);
  const high = new Uint32Array(workload.pages);
  workload.seeds.forEach((seed, i) => {
    low[i] = Number(seed & 0xffffffffn);
    high[i] = Number(seed >> 32n);
  });
  machine.writeSeedWords(vm, gpns, low, high);
  return machine;
}

/** The same bytes as one Buffer, for the JavaScript peers. */
function bytesOf(machine: Machine, pages: number): Buffer {
  const out = Buffer.alloc(pages * PAGE);
  for (let gpn = 0; gpn < pages; gpn++) out.set(machine.readPage(0, gpn), gpn * PAGE);
  return out;
}

/** A scan in JavaScript: hash, Map lookup, Buffer.compare on a hit. Returns pages per second. */
function jsScan(bytes: Buffer, pages: number, hash: (page: Buffer) => bigint): { pagesPerSec: number; saved: number } {
  const started = performance.now();
  const table = new Map<bigint, number[]>();
  let saved = 0;
  for (let i = 0; i < pages; i++) {
    const page = bytes.subarray(i * PAGE, (i + 1) * PAGE);
    const h = hash(page);
    const candidates = table.get(h);
    let merged = false;
    if (candidates) {
      for (const other of candidates) {
        if (Buffer.compare(page, bytes.subarray(other * PAGE, (other + 1) * PAGE)) === 0) {
          merged = true;
          saved++;
          break;
        }
      }
      if (!merged) candidates.push(i);
    } else {
      table.set(h, [i]);
    }
  }
  return { pagesPerSec: pages / ((performance.now() - started) / 1000), saved };
}

export async function run(): Promise<BenchRow[]> {
  const mib = Number(process.env.SCAN_BENCH_MIB ?? 256);
  const pages = Math.floor((mib * 1024 * 1024) / PAGE);
  const workload = makeWorkload(pages);
  const { h64Raw } = await xxhash();

  const firstPass: number[] = [];
  const converge: number[] = [];
  const steady: number[] = [];
  let saved = 0;
  let bytes: Buffer | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const machine = loadMachine(workload);
    try {
      const result = machine.scanToConvergence({ seed: BigInt(round + 1) });
      firstPass.push(pages / result.firstPassSeconds);
      converge.push(result.scannedPages / result.scanSeconds);
      const started = performance.now();
      for (let from = 0; from < pages; from += 32768) machine.scanHostOrder(99n, from, Math.min(32768, pages - from));
      steady.push(pages / ((performance.now() - started) / 1000));
      saved = machine.hostCounters().savedPages;
      bytes ??= bytesOf(machine, pages);
    } finally {
      machine.dispose();
    }
  }
  const data = bytes ?? Buffer.alloc(0);
  const nodeRs = median(Array.from({ length: ROUNDS }, () => jsScan(data, pages, (p) => nodeRsXxh64(p)).pagesPerSec));
  const wasmPeer = median(Array.from({ length: ROUNDS }, () => jsScan(data, pages, (p) => h64Raw(p)).pagesPerSec));
  const peerSaved = jsScan(data, pages, (p) => nodeRsXxh64(p)).saved;
  if (peerSaved !== saved) throw new Error(`the JS peer saved ${peerSaved} pages, ours ${saved}: the scans disagree`);
  const peers = { "JS Map + @node-rs/xxhash xxh64": nodeRs, "JS Map + xxhash-wasm h64": wasmPeer };
  const label = `${mib} MiB, ${pages.toLocaleString("en-US")} pages, 5% duplicates (saved ${saved})`;
  return [
    { name: `sharing scan, first pass (every page hashed), ${label}`, unit: "pages/s", ours: median(firstPass), peers },
    { name: `sharing scan to convergence (2 passes), ${label}`, unit: "pages/s", ours: median(converge), peers, target: ">= 3,000,000 pages/s" },
    { name: `sharing scan, steady rescan of unchanged memory, ${label}`, unit: "pages/s", ours: median(steady), peers, target: ">= 3,000,000 pages/s" },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
