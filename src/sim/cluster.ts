// Clusters: several hosts in one scenario file, each run in its own worker thread with its own
// WASM instance, and a cluster-level summary that adds them up. A cluster file is
//   { "name": ..., "seed": ..., "durationSec": ..., "hosts": [ { "name": "esx1", <scenario fields> }, ... ] }
// where each host entry is a scenario (host, vms, timeline, trace ...) that inherits the
// cluster's durationSec and, unless it gives its own, a seed derived from the cluster's.
import { z } from "zod";
import { parseScenario, ScenarioError, type Scenario } from "./scenario.ts";
import { deriveSeed } from "./random.ts";
import type { RunResult } from "./run.ts";
import { runScenarioTasks, type TaskOptions } from "./worker-pool.ts";

const clusterSchema = z
  .object({
    name: z.string().default("cluster"),
    description: z.string().optional(),
    seed: z.union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/)]).default(1),
    durationSec: z.number().int().positive().optional(),
    hosts: z.array(z.object({ name: z.string().min(1) }).passthrough()).min(1),
  })
  .strict();

export interface ClusterHost {
  readonly name: string;
  readonly scenario: Scenario;
}

export interface Cluster {
  readonly name: string;
  readonly seed: string;
  readonly hosts: readonly ClusterHost[];
}

/** True if a parsed JSON document is a cluster (it has `hosts`) rather than a single-host scenario. */
export function isClusterInput(input: unknown): boolean {
  return input !== null && typeof input === "object" && Array.isArray((input as { hosts?: unknown }).hosts);
}

export function parseCluster(input: unknown, source = "cluster"): Cluster {
  const result = clusterSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ScenarioError(`${source}: invalid cluster: ${issue ? `${issue.path.join(".") || "(top level)"}: ${issue.message}` : "unknown error"}`);
  }
  const cluster = result.data;
  const names = new Set<string>();
  const hosts = cluster.hosts.map((entry, i) => {
    const { name, ...rest } = entry;
    if (names.has(name)) throw new ScenarioError(`${source}: hosts[${i}].name: duplicate host name "${name}"`);
    names.add(name);
    const scenario = parseScenario(
      {
        durationSec: cluster.durationSec,
        seed: deriveSeed(BigInt(cluster.seed), i).toString(),
        name,
        ...rest,
      },
      `${source}: hosts[${i}] ("${name}")`,
    );
    return { name, scenario };
  });
  return { name: cluster.name, seed: String(cluster.seed), hosts };
}

export type HostResult = Omit<RunResult, "metrics" | "events"> & { readonly host: RunResult["host"]; readonly events: number };

export interface ClusterResult {
  readonly name: string;
  readonly hosts: readonly (HostResult & { readonly hostName: string })[];
  readonly totals: {
    readonly hosts: number;
    readonly vms: number;
    readonly memoryMiB: number;
    readonly freeMiB: number;
    readonly consumedMiB: number;
    readonly balloonMiB: number;
    readonly swappedMiB: number;
    readonly compressedMiB: number;
    readonly sharedSavedMiB: number;
    readonly stateSeconds: Readonly<Record<string, number>>;
  };
  readonly wallSeconds: number;
}

/** Runs every host of a cluster (in worker threads unless workers is 0) and adds them up. */
export async function runCluster(cluster: Cluster, options: TaskOptions = {}): Promise<ClusterResult> {
  const started = performance.now();
  const summaries = await runScenarioTasks(cluster.hosts.map((h) => h.scenario), options);
  const hosts = summaries.map((summary, i) => ({ ...summary, hostName: cluster.hosts[i]?.name ?? `host${i}` }));
  const sum = (f: (h: HostResult) => number): number => hosts.reduce((total, h) => total + f(h), 0);
  const stateSeconds: Record<string, number> = {};
  for (const h of hosts) for (const [state, seconds] of Object.entries(h.stateSeconds)) stateSeconds[state] = (stateSeconds[state] ?? 0) + seconds;
  return {
    name: cluster.name,
    hosts,
    totals: {
      hosts: hosts.length,
      vms: sum((h) => h.vms.length),
      memoryMiB: sum((h) => h.host.memoryMiB),
      freeMiB: sum((h) => h.host.freeMiB),
      consumedMiB: sum((h) => h.vms.reduce((t, v) => t + v.consumedMiB, 0)),
      balloonMiB: sum((h) => h.vms.reduce((t, v) => t + v.balloonMiB, 0)),
      swappedMiB: sum((h) => h.vms.reduce((t, v) => t + v.swappedMiB, 0)),
      compressedMiB: sum((h) => h.vms.reduce((t, v) => t + v.compressedMiB, 0)),
      sharedSavedMiB: sum((h) => h.host.sharedSavedMiB),
      stateSeconds,
    },
    wallSeconds: (performance.now() - started) / 1000,
  };
}
