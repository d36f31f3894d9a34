// `overcommit sweep` and `overcommit merge`: parameter sweeps in worker threads, and merging the
// shards of a sweep run on several machines.
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { InvalidArgumentError, Option } from "commander";
import { loadScenarioFile, parseScenario, type Scenario } from "../sim/scenario.ts";
import { SEEDS_STORY } from "../sim/seeds-story.ts";
import { scaleScenario } from "../sim/scale.ts";
import { expandSweep, mergeSweepRows, runSweep, sweepCsv, type ParamValue, type SweepRow } from "../sim/sweep.ts";
import { createProgress } from "./progress.ts";
import { parseScale } from "./options.ts";

/** `name=v1,v2,...` -> [name, values]; numbers stay numbers. */
export function parseSet(value: string, previous: Record<string, ParamValue[]> = {}): Record<string, ParamValue[]> {
  const match = /^([A-Za-z_][\w.]*)=(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError(`expected name=value[,value...], e.g. tax=0,0.25,0.5, found "${value}"`);
  const [, name = "", list = ""] = match;
  const values = list.split(",").map((v): ParamValue => {
    const text = v.trim();
    if (text === "true" || text === "false") return text === "true";
    const n = Number(text);
    return text !== "" && Number.isFinite(n) ? n : text;
  });
  return { ...previous, [name]: values };
}

/** `1..8`, `1,2,5` or `3` -> seeds. */
export function parseSeeds(value: string): bigint[] {
  const range = /^(\d+)\.\.(\d+)$/.exec(value);
  if (range) {
    const from = BigInt(range[1] ?? "0");
    const to = BigInt(range[2] ?? "0");
    if (to < from || to - from > 100_000n) throw new InvalidArgumentError(`expected a range like 1..8, found "${value}"`);
    const seeds: bigint[] = [];
    for (let s = from; s <= to; s++) seeds.push(s);
    return seeds;
  }
  if (!/^\d+(,\d+)*$/.test(value)) throw new InvalidArgumentError(`expected seeds like 1..8 or 1,2,5, found "${value}"`);
  return value.split(",").map((s) => BigInt(s));
}

function parseShard(value: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !(count >= 1) || !(index >= 1 && index <= count)) throw new InvalidArgumentError(`expected I/N with 1 <= I <= N, e.g. 2/4, found "${value}"`);
  return { index, count };
}

export interface SweepFile {
  readonly overcommit: "sweep";
  readonly version: 1;
  readonly scenario: string;
  readonly runs: number;
  readonly shard: { index: number; count: number } | null;
  readonly rows: SweepRow[];
}

/** Where a sweep's table goes: --out (JSON, what `merge` reads), --csv, and stdout (CSV, or JSON with --json). */
export interface SweepOutputOptions {
  csv?: string;
  out?: string;
  json?: boolean;
}

export function writeSweepFile(file: SweepFile, options: SweepOutputOptions): void {
  if (options.out) writeFileSync(options.out, `${JSON.stringify(file, null, 1)}\n`);
  if (options.csv) writeFileSync(options.csv, sweepCsv(file.rows));
  if (options.json) process.stdout.write(`${JSON.stringify(file)}\n`);
  else process.stdout.write(sweepCsv(file.rows));
}

/** The options that say which runs a sweep is: the scenario's settings to vary and the seeds. */
export function addSweepMatrixOptions(command: Command): Command {
  return command
    .option("--set <name=values>", "a setting and its values: tax, idleTax, hostMiB, profile, scale, duration, or a dotted path (repeatable)", parseSet, {})
    .addOption(new Option("--seeds <list>", "seeds: 1..8 or 1,2,5").argParser(parseSeeds).default([1n], "1"));
}

/** A scenario file, or `story` (the built-in seeds' story, at 1/16 scale unless `scale`). */
export function scenarioArg(name: string, scale: number | undefined): Scenario {
  if (name === "story") return scaleScenario(parseScenario(SEEDS_STORY, "built-in seeds' story"), scale ?? 1 / 16);
  const scenario = loadScenarioFile(name);
  return scale !== undefined ? scaleScenario(scenario, scale) : scenario;
}

export function registerSweepCommands(program: Command): void {
  const sweep = program
    .command("sweep")
    .description(
      "Run a scenario for every combination of settings and seeds, in worker threads (one WASM instance each), and write one table. " +
        "`story` is the built-in seeds' story (at 1/16 scale unless --scale). Same rows as running each alone.",
    )
    .argument("<scenario>", "scenario JSON file, or `story`");
  addSweepMatrixOptions(sweep)
    .option("--workers <n>", "worker threads (default: the machine's cores)", (v: string) => Number(v))
    .option("--shard <I/N>", "run only shard I of N (runs whose index mod N is I-1); merge the shards with `overcommit merge`", parseShard)
    .option("--scale <factor>", "scale the scenario's memory sizes (e.g. 1/8)", parseScale)
    .option("--csv <file>", "write the table as CSV")
    .option("--out <file>", "write the rows as JSON (what `merge` reads)")
    .option("--json", "print the rows as one JSON object on stdout")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (name: string, options: { set: Record<string, ParamValue[]>; seeds: bigint[]; workers?: number; shard?: { index: number; count: number }; scale?: number; progress: boolean } & SweepOutputOptions) => {
      const scenario = scenarioArg(name, options.scale);
      const spec = { scenario, set: options.set, seeds: options.seeds };
      const total = expandSweep(spec).length;
      const progress = createProgress(options.progress);
      const started = performance.now();
      progress.start("sweep", total, "runs");
      let rows: SweepRow[];
      try {
        rows = await runSweep(spec, {
          ...(options.workers !== undefined ? { workers: options.workers } : {}),
          ...(options.shard ? { shard: options.shard } : {}),
          onProgress: (done) => progress.update(done),
        });
      } finally {
        progress.stop();
      }
      writeSweepFile({ overcommit: "sweep", version: 1, scenario: name, runs: total, shard: options.shard ?? null, rows }, options);
      process.stderr.write(`${rows.length} of ${total} runs in ${((performance.now() - started) / 1000).toFixed(1)} s${options.shard ? ` (shard ${options.shard.index}/${options.shard.count})` : ""}\n`);
    });

  program
    .command("merge")
    .description("Merge the JSON outputs (--out) of a sweep's shards into the table of the whole sweep (identical to the unsharded run)")
    .argument("<shards...>", "JSON files written by `overcommit sweep --shard I/N --out FILE`")
    .option("--csv <file>", "write the merged table as CSV")
    .option("--out <file>", "write the merged rows as JSON")
    .option("--json", "print the merged rows as JSON on stdout")
    .action((files: string[], options: SweepOutputOptions) => {
      const parts = files.map((path) => {
        let data: SweepFile;
        try {
          data = JSON.parse(readFileSync(path, "utf8")) as SweepFile;
        } catch (cause) {
          throw new InvalidArgumentError(`${path}: not a sweep JSON file (${cause instanceof Error ? cause.message : String(cause)})`);
        }
        if (data.overcommit !== "sweep" || !Array.isArray(data.rows)) throw new InvalidArgumentError(`${path}: not a sweep file written by \`overcommit sweep --out\``);
        return data;
      });
      const rows = mergeSweepRows(parts.map((p) => p.rows));
      const total = parts[0]?.runs ?? rows.length;
      if (rows.length !== total) throw new InvalidArgumentError(`merge: ${rows.length} runs of ${total}: a shard is missing`);
      writeSweepFile({ overcommit: "sweep", version: 1, scenario: parts[0]?.scenario ?? "", runs: total, shard: null, rows }, options);
    });
}
