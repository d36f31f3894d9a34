// `overcommit cluster <file>`: several hosts, each in its own worker thread, and a cluster summary.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { isClusterInput, parseCluster, runCluster, type ClusterResult } from "../sim/cluster.ts";
import { ScenarioError } from "../sim/scenario.ts";
import { createProgress } from "./progress.ts";
import { formatInt, table } from "./format.ts";
import { parsePositiveInt } from "./options.ts";

export function formatCluster(result: ClusterResult): string {
  const rows = result.hosts.map((h) => [
    h.hostName,
    `${formatInt(h.host.memoryMiB)} MiB`,
    String(h.vms.length),
    `${formatInt(h.vms.reduce((t, v) => t + v.consumedMiB, 0))} MiB`,
    `${formatInt(h.host.freeMiB)} MiB`,
    `${formatInt(h.vms.reduce((t, v) => t + v.balloonMiB, 0))} MiB`,
    `${formatInt(h.vms.reduce((t, v) => t + v.swappedMiB + v.compressedMiB, 0))} MiB`,
    `${formatInt(h.host.sharedSavedMiB)} MiB`,
    Object.entries(h.stateSeconds).filter(([, s]) => s > 0).map(([s, n]) => `${s} ${n}`).join(", "),
    `${h.wallSeconds.toFixed(1)} s`,
  ]);
  const t = result.totals;
  rows.push([
    "cluster",
    `${formatInt(t.memoryMiB)} MiB`,
    String(t.vms),
    `${formatInt(t.consumedMiB)} MiB`,
    `${formatInt(t.freeMiB)} MiB`,
    `${formatInt(t.balloonMiB)} MiB`,
    `${formatInt(t.swappedMiB + t.compressedMiB)} MiB`,
    `${formatInt(t.sharedSavedMiB)} MiB`,
    Object.entries(t.stateSeconds).filter(([, s]) => s > 0).map(([s, n]) => `${s} ${n}`).join(", "),
    `${result.wallSeconds.toFixed(1)} s`,
  ]);
  return [
    `overcommit cluster: ${result.name}, ${t.hosts} hosts`,
    "",
    table(["host", "memory", "VMs", "consumed", "free", "balloon", "swap+zip", "shared saved", "host-seconds per state", "wall"], rows),
  ].join("\n");
}

export function registerClusterCommand(program: Command): void {
  program
    .command("cluster")
    .description(
      "Run a cluster file: several hosts (each a scenario) in worker threads, one WASM instance each, and a cluster summary. " +
        'A cluster file is {"name", "seed", "durationSec", "hosts": [{"name": "esx1", <scenario fields>}, ...]}.',
    )
    .argument("<file>", "cluster JSON file")
    .option("--workers <n>", "worker threads (default: the machine's cores; 0: in this thread)", (v: string) => Number(v))
    .option("--hosts <n>", "run only the first n hosts", parsePositiveInt)
    .option("--json", "print one JSON object")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (file: string, options: { workers?: number; hosts?: number; json?: boolean; progress: boolean }) => {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, "utf8"));
      } catch (cause) {
        throw new ScenarioError(`${file}: cannot read a cluster file: ${cause instanceof Error ? cause.message : String(cause)}`);
      }
      if (!isClusterInput(json)) throw new ScenarioError(`${file}: expected a cluster file with "hosts": [...]; for one host use \`overcommit run\``);
      let cluster = parseCluster(json, file);
      if (options.hosts !== undefined) cluster = { ...cluster, hosts: cluster.hosts.slice(0, options.hosts) };
      const progress = createProgress(options.progress);
      progress.start("cluster", cluster.hosts.length, "hosts");
      try {
        const result = await runCluster(cluster, { ...(options.workers !== undefined ? { workers: options.workers } : {}), onProgress: (done) => progress.update(done) });
        progress.stop();
        process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${formatCluster(result)}\n`);
      } finally {
        progress.stop();
      }
    });
}
