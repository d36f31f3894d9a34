// Running scenarios in worker threads, one WASM instance per worker: the pool behind sweeps and
// clusters. A scenario's result depends only on the scenario (and its seed), so results are the
// same whichever worker runs it and in whatever order.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Scenario } from "./scenario.ts";
import type { RunResult } from "./run.ts";

export interface TaskOptions {
  /** Worker threads (default: the machine's parallelism). 0 runs in this thread. */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What a worker sends back: the run without its per-sample metrics and its event log (just a count). */
export type RunSummary = Omit<RunResult, "metrics" | "events"> & { readonly events: number };

export function summarize(result: RunResult): RunSummary {
  const { metrics, events, ...rest } = result;
  void metrics;
  return { ...rest, events: events.length };
}

/** Runs each scenario and returns their summaries in the same order. */
export async function runScenarioTasks(scenarios: readonly Scenario[], options: TaskOptions = {}): Promise<RunSummary[]> {
  const results = new Array<RunSummary | undefined>(scenarios.length);
  let done = 0;
  const workers = Math.min(options.workers ?? availableParallelism(), scenarios.length);
  if (workers <= 0) {
    const { runScenarioAsync } = await import("./run.ts");
    for (const [i, scenario] of scenarios.entries()) {
      results[i] = summarize(await runScenarioAsync(scenario));
      options.onProgress?.(++done, scenarios.length);
    }
    return results as RunSummary[];
  }
  let next = 0;
  const failures: Error[] = [];
  await Promise.all(
    Array.from({ length: workers }, () =>
      new Promise<void>((resolve) => {
        const worker = startWorker();
        const feed = (): void => {
          const index = failures.length === 0 && next < scenarios.length ? next++ : -1;
          if (index < 0) {
            void worker.terminate().then(() => resolve());
            return;
          }
          worker.postMessage({ task: "summary", index, scenario: scenarios[index] });
        };
        worker.on("message", (message: { index: number; summary?: RunSummary; error?: string }) => {
          if (message.summary) {
            results[message.index] = message.summary;
            options.onProgress?.(++done, scenarios.length);
          } else {
            failures.push(new Error(message.error ?? "worker failed"));
          }
          feed();
        });
        worker.on("error", (error) => {
          failures.push(error);
          resolve();
        });
        feed();
      }),
    ),
  );
  if (failures.length > 0) throw failures[0];
  return results as RunSummary[];
}

/**
 * A worker thread running src/sim/sweep-worker.ts (dist/sweep-worker.js when packaged). From the
 * TypeScript sources (tsx) a small JS bootstrap registers tsx in the worker first.
 */
export function startWorker(): Worker {
  const fromSources = import.meta.url.endsWith(".ts");
  const url = new URL(fromSources ? "./sweep-worker-dev.mjs" : "./sweep-worker.js", import.meta.url);
  return new Worker(url, fromSources ? { workerData: { entry: new URL("./sweep-worker.ts", import.meta.url).href } } : {});
}
