// Trace replay throughput through the whole policy stack (host steps every simulated second),
// in events per second, for touch-heavy and write-heavy traces at 8 and 32 VMs.
//
//   npx tsx bench/replay.bench.ts        (REPLAY_BENCH_EVENTS=2000000 for a quicker run)
//
// Each trace is generated once into a temporary binary file (not timed). The peer in the same run
// is the floor: reading and validating the same file without simulating anything.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BinaryTraceWriter, openBinaryTrace } from "../src/trace/binary.ts";
import { generateTrace } from "../src/trace/generate.ts";
import { replayTrace } from "../src/trace/replay.ts";
import { printRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

/** Simulated seconds for `events`: about 20,000 events per simulated second, as a busy host's trace. */
function durationFor(events: number): number {
  return Math.max(60, Math.round(events / 20_000));
}

async function writeTrace(path: string, vms: number, events: number, writePct: number): Promise<void> {
  const source = generateTrace({ vms, vmMiB: 64, events, durationSec: durationFor(events), seed: 7n, workload: "boot", writePct, bootMiB: 8, sharedPct: 30 });
  const writer = new BinaryTraceWriter(path, source.header);
  for await (const chunk of source.chunks()) writer.writeChunk(chunk);
  writer.close();
}

async function readOnly(path: string): Promise<number> {
  const source = await openBinaryTrace(path);
  const started = performance.now();
  let events = 0;
  for await (const chunk of source.chunks()) events += chunk.count;
  return events / ((performance.now() - started) / 1000);
}

export async function run(): Promise<BenchRow[]> {
  const events = Number(process.env.REPLAY_BENCH_EVENTS ?? 10_000_000);
  const dir = mkdtempSync(join(tmpdir(), "overcommit-replay-bench-"));
  const rows: BenchRow[] = [];
  try {
    for (const vms of [8, 32]) {
      for (const [kind, writePct, target] of [
        ["touch-heavy (1% writes)", 1, ">= 5,000,000 events/s"],
        ["write-heavy (100% content writes)", 100, ">= 1,000,000 writes/s"],
      ] as const) {
        const n = writePct === 100 ? Math.floor(events / 4) : events;
        const path = join(dir, `t-${vms}-${writePct}.bin`);
        await writeTrace(path, vms, n, writePct);
        const source = await openBinaryTrace(path);
        // Host: 3/4 of the VMs' memory, so the policies have work to do.
        const { host, summary } = await replayTrace(source, { hostMiB: vms * 48, keepMetrics: false });
        const states = Object.entries(host.stateSeconds).filter(([, s]) => s > 0).map(([s, n]) => `${s} ${n}s`).join(" ");
        host.dispose();
        rows.push({
          name: `replay ${kind}, ${vms} VMs x 64 MiB on a ${vms * 48} MiB host, ${n.toLocaleString("en-US")} events, ${summary.simSec} sim s (${states})`,
          unit: "events/s",
          ours: summary.eventsPerSec,
          peers: { "read + validate only": await readOnly(path) },
          target,
        });
        rmSync(path, { force: true });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
