// Fleet scale: a 256 GiB host in fingerprint mode with 64 VMs replays a generated trace
// (zipfian working sets, content writes, some shared content), and a cluster of hosts runs in
// worker threads. Reports metadata bytes per guest page, events/s and peak RSS, and the speed-up
// of a cluster from 1 worker to the machine's cores.
//
//   npx tsx bench/fleet.bench.ts      (FLEET_EVENTS=20000000 for the full run; default 10M)
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { parseScenario } from "../src/sim/scenario.ts";
import { generateTrace } from "../src/trace/generate.ts";
import { replayTrace } from "../src/trace/replay.ts";
import { parseCluster, runCluster } from "../src/sim/cluster.ts";
import { printRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

/** The core's metadata for a machine (see assembly/frames.ts, table.ts, vms.ts). */
function metadataBytes(frames: number, guestPages: number): number {
  let tableSlots = 1024;
  while (tableSlots < frames * 2) tableSlots *= 2;
  return frames * 16 + tableSlots * 4 + guestPages * 4;
}

async function bigHost(vmGiB: number, events: number): Promise<BenchRow> {
  const vms = 64;
  const hostMiB = 256 * 1024;
  const trace = generateTrace({ vms, vmMiB: vmGiB * 1024, events, durationSec: 600, seed: 11n, workload: "zipf", writePct: 20, sharedPct: 50, workingSetFraction: 0.5 });
  const before = process.memoryUsage().rss;
  let peak = before;
  const started = performance.now();
  const { host, summary } = await replayTrace(trace, {
    scenario: parseScenario({ name: "fleet", durationSec: 1, host: { memoryMiB: hostMiB, content: "fingerprints" }, vms: [{ name: "vm1", memoryMiB: vmGiB * 1024 }] }),
    keepMetrics: false,
    onProgress: () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    },
  });
  const wall = (performance.now() - started) / 1000;
  const guestPages = vms * vmGiB * 262_144;
  const frames = host.machine.frames;
  const perPage = metadataBytes(frames, guestPages) / guestPages;
  const counters = host.machine.hostCounters();
  peak = Math.max(peak, process.memoryUsage().rss);
  host.dispose();
  return {
    name:
      `256 GiB fingerprint host, 64 VMs x ${vmGiB} GiB (${(vms * vmGiB) / 256}x overcommitted, ${guestPages.toLocaleString("en-US")} guest pages): ` +
      `${summary.events.toLocaleString("en-US")} events in ${wall.toFixed(1)} s = ${Math.round(summary.eventsPerSec).toLocaleString("en-US")} events/s; ` +
      `peak RSS ${Math.round(peak / 2 ** 20).toLocaleString("en-US")} MiB; ${counters.guestFrames.toLocaleString("en-US")} frames in use, ${counters.savedPages.toLocaleString("en-US")} pages saved; metadata per guest page`,
    unit: "bytes/page (lower is better)",
    ours: perPage,
    peers: {},
    target: "well under 16 bytes/page",
  };
}

async function clusterScaling(): Promise<BenchRow> {
  const file = fileURLToPath(new URL("../examples/scenarios/cluster-4-hosts.json", import.meta.url));
  const input = JSON.parse(readFileSync(file, "utf8")) as { hosts: Record<string, unknown>[]; durationSec: number };
  // Eight hosts, each longer, so that worker start-up is small beside the work.
  const hosts = [...input.hosts, ...input.hosts.map((h) => ({ ...h, name: `${String(h.name)}b` }))];
  const cluster = parseCluster({ ...input, durationSec: 1200, hosts }, file);
  const one = await runCluster(cluster, { workers: 1 });
  const cores = availableParallelism();
  const all = await runCluster(cluster, { workers: cores });
  return {
    name: `cluster of ${cluster.hosts.length} hosts (1200 simulated s each): ${cores} workers vs 1 worker, wall ${all.wallSeconds.toFixed(1)} s vs ${one.wallSeconds.toFixed(1)} s`,
    unit: "hosts/s",
    ours: cluster.hosts.length / all.wallSeconds,
    peers: { "1 worker": cluster.hosts.length / one.wallSeconds },
    target: `close to ${cores}x on ${cores} cores`,
  };
}

export async function run(): Promise<BenchRow[]> {
  const events = Number(process.env.FLEET_EVENTS ?? 10_000_000);
  return [await bigHost(16, events), await bigHost(8, events), await clusterScaling()];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
