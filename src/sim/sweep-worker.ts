// A sweep's worker thread: runs the scenarios it is sent, one at a time, each on its own host
// (one WASM instance per worker), and posts back the row of figures.
import { parentPort } from "node:worker_threads";
import { runScenarioAsync } from "./run.ts";
import { valuesOf, type SweepRun } from "./sweep.ts";
import type { Scenario } from "./scenario.ts";

parentPort?.on("message", (message: { scenario: Scenario; run: SweepRun }) => {
  runScenarioAsync(message.scenario).then(
    (result) => parentPort?.postMessage({ row: { ...message.run, values: valuesOf(result) } }),
    (error: unknown) => parentPort?.postMessage({ error: `run ${message.run.index}: ${error instanceof Error ? error.message : String(error)}` }),
  );
});
