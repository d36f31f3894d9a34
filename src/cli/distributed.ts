// `overcommit sweep-submit` and `overcommit worker`: a sweep run by workers on many hosts through
// a BullMQ queue on Redis (src/distributed/bullmq.ts). The submitter prints what `overcommit sweep`
// prints; workers run until SIGINT/SIGTERM.
import type { Command } from "commander";
import { DEFAULT_QUEUE, startWorker, submitSweep, type JobInfo } from "../distributed/bullmq.ts";
import { expandSweep, type ParamValue, type SweepRow } from "../sim/sweep.ts";
import { parsePositiveInt, parseScale } from "./options.ts";
import { createProgress } from "./progress.ts";
import { addSweepMatrixOptions, scenarioArg, writeSweepFile, type SweepOutputOptions } from "./sweep.ts";

const DEFAULT_REDIS = "redis://127.0.0.1:6379";

interface SubmitCommandOptions extends SweepOutputOptions {
  set: Record<string, ParamValue[]>;
  seeds: bigint[];
  shards?: number;
  redis: string;
  queue: string;
  attempts: number;
  scale?: number;
  progress: boolean;
}

interface WorkerCommandOptions {
  redis: string;
  queue: string;
  concurrency: number;
  workers?: number;
  lockMs: number;
  stalledMs: number;
}

export function registerDistributedCommands(program: Command): void {
  const submit = program
    .command("sweep-submit")
    .description(
      "Run a sweep on workers on other hosts (`overcommit worker`), through a BullMQ queue on Redis: one job per shard, " +
        "retried if a worker fails or dies; prints the same table as `overcommit sweep`. Resubmitting the same sweep reuses finished jobs.",
    )
    .argument("<scenario>", "scenario JSON file (image and trace paths must be readable at the same path on every worker), or `story`");
  addSweepMatrixOptions(submit)
    .option("--shards <n>", "jobs to split the runs into, round-robin as `sweep --shard I/N` (default: one per run)", parsePositiveInt)
    .option("--redis <url>", "the Redis server the workers listen on", DEFAULT_REDIS)
    .option("--queue <name>", "queue name", DEFAULT_QUEUE)
    .option("--attempts <n>", "attempts per job before the sweep fails (at least 3)", parsePositiveInt, 3)
    .option("--scale <factor>", "scale the scenario's memory sizes (e.g. 1/8)", parseScale)
    .option("--csv <file>", "write the table as CSV")
    .option("--out <file>", "write the rows as JSON (what `merge` reads)")
    .option("--json", "print the rows as one JSON object on stdout")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (name: string, options: SubmitCommandOptions) => {
      const scenario = scenarioArg(name, options.scale);
      const spec = { scenario, set: options.set, seeds: options.seeds };
      const total = expandSweep(spec).length;
      const shards = Math.min(options.shards ?? total, total);
      const progress = createProgress(options.progress);
      const started = performance.now();
      const jobs: JobInfo[] = [];
      let workersListening = 0;
      let rows: SweepRow[];
      try {
        rows = await submitSweep(spec, {
          redisUrl: options.redis,
          shards,
          queue: options.queue,
          attempts: options.attempts,
          onQueued: ({ jobs: queued, workers, alreadyFinished }) => {
            workersListening = workers;
            process.stderr.write(
              `${queued} job(s) on ${options.redis}, queue "${options.queue}"${alreadyFinished > 0 ? ` (${alreadyFinished} already finished)` : ""}; ` +
                `${workers} worker(s) listening${workers === 0 ? ` — start \`overcommit worker --redis ${options.redis}${options.queue !== DEFAULT_QUEUE ? ` --queue ${options.queue}` : ""}\` on the hosts` : ""}\n`,
            );
            progress.start("sweep", total, "runs");
          },
          onProgress: (done) => progress.update(done),
          onJob: (info) => jobs.push(info),
        });
      } finally {
        progress.stop();
      }
      writeSweepFile({ overcommit: "sweep", version: 1, scenario: name, runs: total, shard: null, rows }, options);
      const hosts = new Set(jobs.map((job) => job.worker)).size;
      const retried = jobs.filter((job) => job.attemptsStarted > 1);
      const cpu = jobs.reduce((sum, job) => sum + job.seconds, 0);
      process.stderr.write(
        `${rows.length} of ${total} runs in ${((performance.now() - started) / 1000).toFixed(1)} s: ${jobs.length} job(s) on ${hosts} worker(s) ` +
          `(${workersListening} listening at submit), ${cpu.toFixed(1)} s of shard time` +
          `${retried.length > 0 ? `; retried: ${retried.map((job) => `${job.jobId} (started ${job.attemptsStarted}x, stalled ${job.stalledCounter}x)`).join(", ")}` : ""}\n`,
      );
    });

  program
    .command("worker")
    .description(
      "Run sweep jobs from a BullMQ queue on Redis until SIGINT/SIGTERM (one per host, or more). A worker that dies mid-job " +
        "(even kill -9) loses nothing: once its lock expires another worker runs the job again.",
    )
    .option("--redis <url>", "the Redis server to take jobs from", DEFAULT_REDIS)
    .option("--queue <name>", "queue name", DEFAULT_QUEUE)
    .option("--concurrency <n>", "jobs (shards) at once", parsePositiveInt, 1)
    .option("--workers <n>", "worker threads per job (default: the cores divided by --concurrency)", parsePositiveInt)
    .option("--lock-ms <ms>", "a job's lock lasts this long unless renewed; a dead worker's job is retried after it", parsePositiveInt, 10_000)
    .option("--stalled-ms <ms>", "how often to look for jobs whose worker died", parsePositiveInt, 5_000)
    .action(async (options: WorkerCommandOptions) => {
      const handle = await startWorker({
        redisUrl: options.redis,
        queue: options.queue,
        concurrency: options.concurrency,
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        lockDurationMs: options.lockMs,
        stalledIntervalMs: options.stalledMs,
      });
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        const stop = (signal: NodeJS.Signals): void => {
          if (!stopping) {
            stopping = true;
            process.stderr.write(`${signal}: finishing the running job(s), then stopping (${signal} again: stop now; the job goes back to the queue)\n`);
            handle.close().then(resolve, reject);
          } else {
            process.stderr.write(`${signal}: stopping now\n`);
            // Runs still in worker threads would keep the process alive: leave now.
            handle.close(true).then(() => process.exit(130), reject);
          }
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
      process.stderr.write("worker stopped\n");
    });
}
