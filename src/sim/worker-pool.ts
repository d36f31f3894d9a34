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
  await runInWorkers<RunSummary>(
    scenarios.map((scenario) => ({ task: "summary", scenario })),
    workers,
    (index, summary) => {
      results[index] = summary;
      options.onProgress?.(++done, scenarios.length);
    },
  );
  return results as RunSummary[];
}

/** What a worker posts back for task `index`: its result, or why it failed. */
export interface WorkerReply<R> {
  readonly index: number;
  readonly result?: R;
  readonly error?: string;
}

/**
 * Sends each message (with its index added) to a pool of `workers` worker threads, one task at a
 * time per worker, and hands every result to `onResult`. The first failure stops the pool and is
 * thrown once the workers are done.
 */
export async function runInWorkers<R>(messages: readonly object[], workers: number, onResult: (index: number, result: R) => void): Promise<void> {
  let next = 0;
  const failures: Error[] = [];
  await Promise.all(
    Array.from({ length: Math.min(workers, messages.length) }, () =>
      new Promise<void>((resolve) => {
        const worker = startWorker();
        const feed = (): void => {
          const index = failures.length === 0 && next < messages.length ? next++ : -1;
          if (index < 0) {
            void worker.terminate().then(() => resolve());
            return;
          }
          worker.postMessage({ ...messages[index], index });
        };
        worker.on("message", (reply: WorkerReply<R>) => {
          if (reply.error === undefined && reply.result !== undefined) onResult(reply.index, reply.result);
          else failures.push(new Error(reply.error ?? "worker failed"));
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
