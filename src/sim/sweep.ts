// Parameter sweeps: the cross product of scenario settings and seeds, each run in a worker thread
// with its own WASM instance, results gathered into one table. A run's result depends only on its
// scenario and seed, so a sweep gives the same rows as running each alone, in any order, split
// into shards on any number of machines (`--shard I/N`, then `merge`).
import { availableParallelism } from "node:os";
import { runInWorkers } from "./worker-pool.ts";
import { parseScenario, type Scenario } from "./scenario.ts";
import type { RunResult } from "./run.ts";

export type ParamValue = number | string | boolean;

/** Shorthand names for common settings; anything else is a dotted path into the scenario. */
export const PARAM_ALIASES: Readonly<Record<string, string>> = {
  tax: "host.idleTax",
  idleTax: "host.idleTax",
  hostMiB: "host.memoryMiB",
  profile: "host.profile",
  scale: "scale",
  duration: "durationSec",
};

export interface SweepSpec {
  readonly scenario: Scenario;
  /** Parameter name (alias or dotted path) -> values to try. */
  readonly set: Readonly<Record<string, readonly ParamValue[]>>;
  readonly seeds: readonly bigint[];
}

export interface SweepRun {
  readonly index: number;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly seed: string;
}

/** One row of results: the run, then flat columns of figures. */
export type SweepRow = SweepRun & { readonly values: Readonly<Record<string, number | string>> };

/** The runs of a sweep, in a fixed order: parameters in the order given, seeds innermost. */
export function expandSweep(spec: SweepSpec): SweepRun[] {
  let combos: Record<string, ParamValue>[] = [{}];
  for (const [name, values] of Object.entries(spec.set)) {
    if (values.length === 0) throw new RangeError(`--set ${name}: expected at least one value`);
    combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [name]: value })));
  }
  const runs: SweepRun[] = [];
  for (const params of combos) for (const seed of spec.seeds) runs.push({ index: runs.length, params, seed: seed.toString() });
  return runs;
}

/** The scenario of one run: parameters applied (re-validated) and its seed. */
export function scenarioFor(base: Scenario, run: SweepRun): Scenario {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  for (const [name, value] of Object.entries(run.params)) {
    const path = (PARAM_ALIASES[name] ?? name).split(".");
    let node: Record<string, unknown> = copy;
    for (const [i, key] of path.entries()) {
      if (i === path.length - 1) {
        node[key] = value;
      } else {
        const next = node[key];
        if (next === null || typeof next !== "object") throw new RangeError(`--set ${name}: the scenario has no "${path.slice(0, i + 1).join(".")}"`);
        node = next as Record<string, unknown>;
      }
    }
  }
  copy.seed = run.seed;
  return parseScenario(copy, `sweep run ${run.index} (${JSON.stringify(run.params)})`);
}

/** The figures of a finished run, flattened: per VM, then host. */
export function valuesOf(result: RunResult): Record<string, number | string> {
  const values: Record<string, number | string> = {};
  for (const vm of result.vms) {
    values[`${vm.name}.consumedMiB`] = round(vm.consumedMiB);
    values[`${vm.name}.targetMiB`] = round(vm.targetMiB);
    values[`${vm.name}.balloonMiB`] = round(vm.balloonMiB);
    values[`${vm.name}.swappedMiB`] = round(vm.swappedMiB);
    values[`${vm.name}.compressedMiB`] = round(vm.compressedMiB);
    values[`${vm.name}.sharedMiB`] = round(vm.sharedMiB);
    values[`${vm.name}.activeEstimate`] = round(vm.activeEstimate);
    values[`${vm.name}.guestPageOuts`] = vm.guestPageOuts;
    values[`${vm.name}.doublePaging`] = vm.doublePaging;
    values[`${vm.name}.swapOuts`] = vm.swapOuts;
  }
  for (const [state, seconds] of Object.entries(result.stateSeconds)) values[`host.${state}Sec`] = seconds;
  values["host.sharedSavedMiB"] = round(result.host.sharedSavedMiB);
  values["host.freeMiB"] = round(result.host.freeMiB);
  return values;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export interface SweepOptions {
  /** Worker threads (default: the machine's parallelism). 0 runs in this thread. */
  workers?: number;
  /** Only run shard `index` (1-based) of `count`: runs whose index % count == index - 1. */
  shard?: { index: number; count: number };
  onProgress?: (done: number, total: number) => void;
}

/** Runs the runs of this shard (all by default) and returns their rows in run order. */
export async function runSweep(spec: SweepSpec, options: SweepOptions = {}): Promise<SweepRow[]> {
  const all = expandSweep(spec);
  const runs = options.shard ? all.filter((run) => run.index % (options.shard?.count ?? 1) === (options.shard?.index ?? 1) - 1) : all;
  const rows: SweepRow[] = [];
  const workers = Math.min(options.workers ?? availableParallelism(), runs.length);
  if (workers <= 0) {
    const { runScenarioAsync } = await import("./run.ts");
    for (const run of runs) {
      rows.push({ ...run, values: valuesOf(await runScenarioAsync(scenarioFor(spec.scenario, run))) });
      options.onProgress?.(rows.length, runs.length);
    }
    return rows;
  }
  await runInWorkers<SweepRow>(
    runs.map((run) => ({ task: "row", scenario: scenarioFor(spec.scenario, run), run })),
    workers,
    (_index, row) => {
      rows.push(row);
      options.onProgress?.(rows.length, runs.length);
    },
  );
  return rows.sort((a, b) => a.index - b.index);
}

/** Merges the rows of shards (each a run-ordered list) into the table of the whole sweep. */
export function mergeSweepRows(parts: readonly (readonly SweepRow[])[]): SweepRow[] {
  const byIndex = new Map<number, SweepRow>();
  for (const part of parts) {
    for (const row of part) {
      const existing = byIndex.get(row.index);
      if (existing && JSON.stringify(existing) !== JSON.stringify(row)) {
        throw new RangeError(`merge: run ${row.index} appears twice with different results (shards of different sweeps?)`);
      }
      byIndex.set(row.index, row);
    }
  }
  const rows = [...byIndex.values()].sort((a, b) => a.index - b.index);
  rows.forEach((row, i) => {
    if (row.index !== i) throw new RangeError(`merge: run ${i} is missing (have ${rows.length} runs; a shard is missing?)`);
  });
  return rows;
}

/** The rows as CSV: run, parameters, seed, then every value column. */
export function sweepCsv(rows: readonly SweepRow[]): string {
  const params = [...new Set(rows.flatMap((row) => Object.keys(row.params)))];
  const values = [...new Set(rows.flatMap((row) => Object.keys(row.values)))];
  const cell = (v: unknown): string => {
    const text = v === undefined ? "" : String(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [["run", ...params, "seed", ...values].map(cell).join(",")];
  for (const row of rows) lines.push([row.index, ...params.map((p) => row.params[p]), row.seed, ...values.map((v) => row.values[v])].map(cell).join(","));
  return `${lines.join("\n")}\n`;
}
