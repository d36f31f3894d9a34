// Policies over simulated time: the default scenario (the seeds' story at 1/8 scale) in simulated
// seconds per wall second, and the cost of one simulated second as the number of VMs grows
// (1, 2, 4, 8 VMs, each booting and running a working set on a host they overcommit 1.5x).
//
//   npx tsx bench/scenario.bench.ts
import { fileURLToPath } from "node:url";
import { parseScenario } from "../src/sim/scenario.ts";
import { runScenario } from "../src/sim/run.ts";
import { scaleScenario } from "../src/sim/scale.ts";
import { SEEDS_STORY } from "../src/sim/seeds-story.ts";
import { printRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

function vmsScenario(vms: number) {
  return parseScenario({
    name: `${vms}-vms`,
    durationSec: 600,
    host: { memoryMiB: Math.round((vms * 64) / 1.5) },
    vms: Array.from({ length: vms }, (_, i) => ({ name: `vm${i + 1}`, memoryMiB: 64, content: { osSeed: 1 } })),
    timeline: Array.from({ length: vms }, (_, i) => [
      { atSec: i * 5, vm: `vm${i + 1}`, action: "boot" as const, MiB: 16 },
      { atSec: i * 5 + 5, vm: `vm${i + 1}`, action: "grow" as const, toMiB: 56, rateMiBPerSec: 2 },
    ]).flat(),
  });
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const tax of [0, 0.75]) {
    const story = scaleScenario(parseScenario({ ...SEEDS_STORY, host: { ...SEEDS_STORY.host, idleTax: tax } }), 1 / 8);
    const result = runScenario(story);
    rows.push({
      name: `default scenario (seeds' story at 1/8, tax ${tax}): ${result.durationSec} simulated s in ${result.wallSeconds.toFixed(2)} s`,
      unit: "sim s / wall s",
      ours: result.durationSec / result.wallSeconds,
      peers: {},
    });
  }
  const perSecond: number[] = [];
  for (const vms of [1, 2, 4, 8]) {
    const result = runScenario(vmsScenario(vms));
    const msPerSimSecond = (result.wallSeconds * 1000) / result.durationSec;
    perSecond.push(msPerSimSecond);
    const states = Object.entries(result.stateSeconds).filter(([, s]) => s > 0).map(([s, n]) => `${s} ${n}`).join(", ");
    rows.push({
      name: `${vms} VM${vms > 1 ? "s" : ""} x 64 MiB on a ${Math.round((vms * 64) / 1.5)} MiB host, 600 simulated s (${states}): wall ms per simulated second`,
      unit: "ms / sim s (lower is better)",
      ours: msPerSimSecond,
      peers: vms > 1 ? { "1 VM x this many VMs": (perSecond[0] ?? 0) * vms } : {},
    });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
