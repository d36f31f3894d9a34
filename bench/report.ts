// Shared output of the benchmarks: one table of measurements, our figure, each peer's, the ratio
// ours/peer, and the target.
import type { BenchRow } from "./types.ts";

function format(value: number): string {
  if (value === 0) return "0";
  if (value >= 1000) return Math.round(value).toLocaleString("en-US");
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Rows as text: "measurement | unit | ours | peer: value (ratio x) ... | target". */
export function formatRows(rows: readonly BenchRow[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    const peers = Object.entries(row.peers).map(([name, value]) => `${name} ${format(value)} (${value > 0 ? (row.ours / value).toFixed(2) : "-"}x)`);
    lines.push(`${row.name}`);
    lines.push(`    ours ${format(row.ours)} ${row.unit}${peers.length ? ` | ${peers.join(" | ")}` : ""}${row.target ? ` | target ${row.target}` : ""}`);
  }
  return lines.join("\n");
}

export function printRows(rows: readonly BenchRow[]): void {
  process.stdout.write(`${formatRows(rows)}\n`);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** A contender of a page-throughput measurement: processes `pages` pages starting at `firstPage`. */
export type Contender = { name: string; pass: (firstPage: number, pages: number) => void };

const PAGE_BYTES = 4096;

/**
 * GB/s (median over `rounds`) of each contender processing `roundPages` pages per round, in steps
 * of at most `batchPages` from a window of `windowPages` pages (cycled, so a window larger than the
 * caches streams from memory: "cold"). Each contender first warms up for `warmupMs` (V8 tiers code
 * up), and the rounds alternate the contenders' order so that none always runs first.
 */
export function measurePages(
  contenders: readonly Contender[],
  windowPages: number,
  roundPages: number,
  { batchPages = 4096, rounds = 9, warmupMs = 400 }: { batchPages?: number; rounds?: number; warmupMs?: number } = {},
): Map<string, number> {
  const step = Math.min(batchPages, windowPages);
  for (const c of contenders) {
    const start = performance.now();
    let at = 0;
    while (performance.now() - start < warmupMs) {
      c.pass(at, step);
      at = (at + step) % windowPages;
    }
  }
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const cursor = new Map<string, number>(contenders.map((c) => [c.name, 0]));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(round + k) % contenders.length];
      if (!c) continue;
      let at = cursor.get(c.name) ?? 0;
      const start = performance.now();
      for (let done = 0; done < roundPages; done += step) {
        c.pass(at, step);
        at = (at + step) % windowPages;
      }
      const seconds = (performance.now() - start) / 1000;
      cursor.set(c.name, at);
      samples.get(c.name)?.push((roundPages * PAGE_BYTES) / seconds / 1e9);
    }
  }
  return new Map([...samples].map(([name, gbps]) => [name, median(gbps)]));
}
