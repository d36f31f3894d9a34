// The worker thread of sweeps and clusters: runs the scenarios it is sent, one at a time, each on
// its own host (one WASM instance per worker), and posts back a sweep row or a run summary.
import { parentPort } from "node:worker_threads";
import { runScenarioAsync } from "./run.ts";
import { valuesOf, type SweepRun } from "./sweep.ts";
import { summarize } from "./worker-pool.ts";
import type { Scenario } from "./scenario.ts";

type Task = ({ task: "row"; run: SweepRun } | { task: "summary" }) & { index: number; scenario: Scenario };

parentPort?.on("message", (message: Task) => {
  runScenarioAsync(message.scenario).then(
    (result) =>
      parentPort?.postMessage({
        index: message.index,
        result: message.task === "row" ? { ...message.run, values: valuesOf(result) } : summarize(result),
      }),
    (error: unknown) => {
      const what = message.task === "row" ? `run ${message.run.index}` : `task ${message.index}`;
      parentPort?.postMessage({ index: message.index, error: `${what}: ${error instanceof Error ? error.message : String(error)}` });
    },
  );
});
