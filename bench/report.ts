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
