// Sweeps: worker threads give the same rows as running each alone, shards merge into the same
// table, and parameters reach the scenario.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseScenario } from "../src/sim/scenario.ts";
import { runScenario } from "../src/sim/run.ts";
import { expandSweep, mergeSweepRows, runSweep, scenarioFor, valuesOf } from "../src/sim/sweep.ts";
import { SMALL_CONTENDED_SCENARIO } from "./helpers/scenarios.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "overcommit-sweep-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scenario = parseScenario(SMALL_CONTENDED_SCENARIO);
const spec = { scenario, set: { tax: [0, 0.75] }, seeds: [1n, 2n] };

describe("sweep", () => {
  it("expands the cross product in a fixed order and applies each setting", () => {
    const runs = expandSweep(spec);
    expect(runs.map((r) => [r.params.tax, r.seed])).toEqual([[0, "1"], [0, "2"], [0.75, "1"], [0.75, "2"]]);
    const applied = scenarioFor(scenario, runs[3] ?? runs[0]!);
    expect(applied.host.idleTax).toBe(0.75);
    expect(applied.seed).toBe("2");
    expect(() => scenarioFor(scenario, { index: 0, seed: "1", params: { "host.nothing.deeper": 1 } })).toThrow(/no "host.nothing"/);
  });

  it("gives in worker threads the rows of running each scenario alone", async () => {
    const rows = await runSweep(spec, { workers: 2 });
    expect(rows.map((r) => r.index)).toEqual([0, 1, 2, 3]);
    for (const row of rows) {
      const alone = valuesOf(runScenario(scenarioFor(scenario, row)));
      expect(row.values).toEqual(alone);
    }
    // The tax moves memory from the idle VM to the busy one.
    const taxed = rows.find((r) => r.params.tax === 0.75 && r.seed === "1");
    const untaxed = rows.find((r) => r.params.tax === 0 && r.seed === "1");
    expect(Number(taxed?.values["idle.consumedMiB"])).toBeLessThan(Number(untaxed?.values["idle.consumedMiB"]));
  }, 120_000);

  it("merges shards into the unsharded table, and refuses a missing shard", async () => {
    const whole = await runSweep(spec, { workers: 0 });
    const shards = await Promise.all([1, 2, 3].map((index) => runSweep(spec, { workers: 0, shard: { index, count: 3 } })));
    expect(mergeSweepRows(shards)).toEqual(whole);
    expect(() => mergeSweepRows([shards[0] ?? [], shards[2] ?? []])).toThrow(/missing/);
  }, 120_000);

  it("runs from the CLI: sweep --shard, then merge", async () => {
    const file = join(dir, "small.json");
    writeFileSync(file, JSON.stringify(scenario));
    const cli = ["--import", "tsx", "src/cli/main.ts"];
    const outs: string[] = [];
    for (const shard of ["1/2", "2/2"]) {
      const out = join(dir, `shard-${shard.replace("/", "of")}.json`);
      await run(process.execPath, [...cli, "sweep", file, "--set", "tax=0,0.75", "--seeds", "1..2", "--shard", shard, "--workers", "1", "--out", out, "--no-progress"]);
      outs.push(out);
    }
    const merged = join(dir, "merged.csv");
    await run(process.execPath, [...cli, "merge", ...outs, "--csv", merged]);
    const whole = await run(process.execPath, [...cli, "sweep", file, "--set", "tax=0,0.75", "--seeds", "1..2", "--workers", "2", "--no-progress"]);
    expect(readFileSync(merged, "utf8")).toBe(whole.stdout);
    expect(whole.stdout.split("\n")[0]).toMatch(/^run,tax,seed,idle\.consumedMiB/);
  }, 180_000);
});
