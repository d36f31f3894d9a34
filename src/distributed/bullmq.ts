// Sweeps beyond one machine, on BullMQ (a job queue on Redis): the submitter enqueues one job per
// shard, workers on any number of hosts run them, and the submitter merges the rows. BullMQ keeps
// the hard parts: a job's lock is renewed while its worker lives; a worker that dies (even by
// SIGKILL) stops renewing it, another worker's stalled-job check puts the job back in the queue,
// and it runs again elsewhere. Failed attempts are retried with backoff. No coordinator of ours.
//
// What crosses the wire: a job carries the scenario JSON, the sweep's settings and seeds, and its
// shard (index, count); a result is rows of figures (SweepRow). Never page contents: every worker
// builds its guests' pages itself from the scenario and seed.
//
// A job payload is a generic shard of work, `{ kind, format, ..., shard: { index, count } }`. This
// module registers kind "sweep"; other kinds (e.g. "cluster": multi-host scenarios) register
// themselves with `registerJobKind` and reuse the queue, the workers and `submitShardJobs`.
import { createHash } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import { z } from "zod";
import { OvercommitError } from "../core/errors.ts";
import { parseScenario } from "../sim/scenario.ts";
import { expandSweep, mergeSweepRows, runSweep, scenarioFor, type ParamValue, type SweepRow, type SweepSpec } from "../sim/sweep.ts";

/** The queue's default name (a Redis key prefix `bull:overcommit:`). */
export const DEFAULT_QUEUE = "overcommit";
/** Version of the job payload and result formats; part of every job id. */
export const JOB_FORMAT = 1;

/** A Redis or queue problem, said so that the user can fix it. */
export class DistributedError extends OvercommitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_ARGUMENT", message, options);
    this.name = "DistributedError";
  }
}

// ---------------------------------------------------------------------------------------------
// Payloads: validated on receipt (a worker never trusts what it reads from Redis).

export interface Shard {
  readonly index: number;
  readonly count: number;
}

const shardSchema = z
  .object({ index: z.number().int().min(1), count: z.number().int().min(1).max(1_000_000) })
  .strict()
  .refine((shard) => shard.index <= shard.count, { message: "expected 1 <= index <= count" });

/** What every job has; a kind adds its own fields. */
const envelopeSchema = z.object({ kind: z.string().min(1), format: z.number().int(), shard: shardSchema }).loose();

const paramValueSchema = z.union([z.number(), z.string(), z.boolean()]);

const sweepJobSchema = z
  .object({
    kind: z.literal("sweep"),
    format: z.literal(JOB_FORMAT),
    spec: z
      .object({
        /** A scenario as `parseScenario` returns it (re-validated by the worker). */
        scenario: z.unknown(),
        set: z.record(z.string().regex(/^[A-Za-z_][\w.]*$/, "a setting name"), z.array(paramValueSchema).min(1)),
        /** Decimal strings (JSON has no 64-bit integers). */
        seeds: z.array(z.string().regex(/^\d+$/, "a decimal seed")).min(1).max(100_001),
      })
      .strict(),
    shard: shardSchema,
  })
  .strict();

export type SweepJobPayload = z.infer<typeof sweepJobSchema>;

/** Any job: a sweep shard, or a shard of another registered kind (e.g. "cluster"). */
export type ShardJobPayload = SweepJobPayload | { readonly kind: string; readonly format: number; readonly shard: Shard; readonly [field: string]: unknown };

const sweepRowSchema = z
  .object({
    index: z.number().int().nonnegative(),
    params: z.record(z.string(), paramValueSchema),
    seed: z.string(),
    values: z.record(z.string(), z.union([z.number(), z.string()])),
  })
  .strict();

const sweepResultSchema = z
  .object({
    kind: z.literal("sweep"),
    rows: z.array(sweepRowSchema),
    /** Which worker ran it (host:pid) and how long the shard's runs took there. */
    worker: z.string(),
    seconds: z.number().nonnegative(),
  })
  .strict();

export type SweepJobResult = z.infer<typeof sweepResultSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 6)
    .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)"}: ${issue.message}`)
    .join("; ");
}

// ---------------------------------------------------------------------------------------------
// Job kinds: what a worker knows how to run.

export interface JobContext {
  readonly jobId: string;
  /** Worker threads this job may use (each run has its own WASM instance). */
  readonly workers: number;
  /** Reports progress (runs done of total) to the submitter. */
  readonly progress: (done: number, total: number) => void;
}

export interface JobKind<P, R> {
  /** Validates a payload read from Redis; a payload it refuses fails the job at once (no retry). */
  readonly schema: z.ZodType<P>;
  /** Runs the shard; its result must be plain JSON. A throw is retried (attempts, backoff). */
  readonly run: (payload: P, context: JobContext) => Promise<R>;
}

type KindRunner = (payload: unknown, context: JobContext) => Promise<unknown>;
const kinds = new Map<string, KindRunner>();

/** Teaches workers (in this process) a kind of job. */
export function registerJobKind<P, R>(kind: string, handler: JobKind<P, R>): void {
  kinds.set(kind, async (payload, context) => {
    const parsed = handler.schema.safeParse(payload);
    if (!parsed.success) throw new UnrecoverableError(`job ${context.jobId}: invalid ${kind} payload: ${describeIssues(parsed.error)}`);
    return handler.run(parsed.data, context);
  });
}

registerJobKind<SweepJobPayload, SweepJobResult>("sweep", {
  schema: sweepJobSchema,
  run: async (payload, context) => {
    let spec: SweepSpec;
    try {
      spec = {
        scenario: parseScenario(payload.spec.scenario, `job ${context.jobId}: scenario`),
        set: payload.spec.set,
        seeds: payload.spec.seeds.map((seed) => BigInt(seed)),
      };
      // Every run's settings must apply to the scenario: a bad one can never succeed anywhere.
      for (const run of expandSweep(spec)) scenarioFor(spec.scenario, run);
    } catch (error) {
      throw new UnrecoverableError(`job ${context.jobId}: invalid sweep payload: ${error instanceof Error ? error.message : String(error)}`);
    }
    const started = performance.now();
    const rows = await runSweep(spec, { shard: payload.shard, workers: context.workers, onProgress: context.progress });
    return { kind: "sweep", rows, worker: `${hostname()}:${process.pid}`, seconds: (performance.now() - started) / 1000 };
  },
});

// ---------------------------------------------------------------------------------------------
// Redis.

/** Checks that `url` is a Redis URL and that a server answers there; throws a DistributedError saying what to do. */
export async function checkRedis(url: string, timeoutMs = 3000): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DistributedError(`--redis: expected a Redis URL like redis://127.0.0.1:6379, found "${url}"`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new DistributedError(`--redis: expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379, found "${url}"`);
  }
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  let lastError: unknown;
  client.on("error", (error: unknown) => {
    lastError = error;
  });
  try {
    await client.connect();
    const pong = await client.ping();
    if (pong !== "PONG") throw new Error(`PING answered "${pong}"`);
  } catch (error) {
    const reason = (lastError ?? error) instanceof Error ? ((lastError ?? error) as Error).message : String(lastError ?? error);
    throw new DistributedError(
      `cannot reach Redis at ${url} (${reason}): a Redis server must be running there and accept connections from this host ` +
        "(e.g. `redis-server --port 6379`; on Debian: apt-get install -y redis-server)",
      { cause: error },
    );
  } finally {
    client.disconnect();
  }
}

function connection(url: string): { url: string } {
  return { url };
}

// ---------------------------------------------------------------------------------------------
// Submitting.

export interface SubmitOptions {
  readonly redisUrl: string;
  /** Shards (jobs): runs are dealt to them round-robin, as `overcommit sweep --shard I/N`. */
  readonly shards: number;
  readonly queue?: string;
  /** Attempts per job before it fails for good (default 3; at least 3). */
  readonly attempts?: number;
  /** First retry delay in ms, doubled each retry (default 1000). */
  readonly backoffMs?: number;
  /** How long finished jobs (and their rows) stay in Redis, so that resubmitting is free (default 1 day). */
  readonly keepSeconds?: number;
  /** Runs done so far of all runs (from the workers' progress reports). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Called once per shard when its rows arrive: which job, where it ran, how often it started. */
  readonly onJob?: (info: JobInfo) => void;
  /** Called once, after the jobs are queued, with how many workers are listening on the queue. */
  readonly onQueued?: (info: { jobs: number; workers: number; alreadyFinished: number }) => void;
}

export interface JobInfo {
  readonly jobId: string;
  readonly shard: Shard;
  readonly runs: number;
  /** host:pid of the worker whose result was kept. */
  readonly worker: string;
  /** Seconds the shard's runs took on that worker. */
  readonly seconds: number;
  /** Times a worker took the job (more than 1: it was retried after a failure or a stall). */
  readonly attemptsStarted: number;
  /** Attempts that ended (BullMQ counts the successful one too): 1 + failed attempts. */
  readonly attemptsMade: number;
  /** Times the job was found stalled (its worker died or hung) and put back in the queue. */
  readonly stalledCounter: number;
}

/** The job id of a shard: a hash of the payload, so resubmitting the same sweep finds the same jobs. */
export function jobIdOf(payload: ShardJobPayload): string {
  const { shard, ...rest } = payload;
  const hash = createHash("sha256").update(JSON.stringify(rest)).digest("hex").slice(0, 20);
  return `${payload.kind}-${hash}-${shard.index}of${shard.count}`;
}

/** The sweep's jobs, one per shard. Seeds cross as decimal strings. */
export function sweepJobs(spec: SweepSpec, shards: number): SweepJobPayload[] {
  if (!Number.isInteger(shards) || shards < 1) throw new DistributedError(`--shards: expected a whole number >= 1, found ${shards}`);
  const base = {
    kind: "sweep" as const,
    format: JOB_FORMAT as typeof JOB_FORMAT,
    spec: {
      scenario: JSON.parse(JSON.stringify(spec.scenario)) as unknown,
      set: Object.fromEntries(Object.entries(spec.set).map(([name, values]) => [name, [...values]])) as Record<string, ParamValue[]>,
      seeds: spec.seeds.map((seed) => seed.toString()),
    },
  };
  return Array.from({ length: shards }, (_, i) => ({ ...base, shard: { index: i + 1, count: shards } }));
}

/**
 * Queues jobs (one per shard; a job already in the queue under the same id is reused, one that
 * failed for good is retried) and waits for all of them. Returns their results in shard order.
 * A shard that fails after all its attempts rejects the whole call; the other jobs keep running
 * and keep their results, so resubmitting collects them.
 */
export async function submitShardJobs(payloads: readonly ShardJobPayload[], options: Omit<SubmitOptions, "shards"> & { readonly runsOf?: (payload: ShardJobPayload) => number }): Promise<{ payload: ShardJobPayload; result: unknown; info: Omit<JobInfo, "worker" | "seconds"> }[]> {
  await checkRedis(options.redisUrl);
  const name = options.queue ?? DEFAULT_QUEUE;
  const attempts = Math.max(3, options.attempts ?? 3);
  const keep = options.keepSeconds ?? 86_400;
  const queue = new Queue<ShardJobPayload, unknown, string>(name, { connection: connection(options.redisUrl) });
  const events = new QueueEvents(name, { connection: connection(options.redisUrl) });
  queue.setMaxListeners(payloads.length + 16);
  queue.on("error", () => undefined);
  events.on("error", () => undefined);
  try {
    await events.waitUntilReady();
    const jobs = await queue.addBulk(
      payloads.map((payload) => ({
        name: payload.kind,
        data: payload,
        opts: {
          jobId: jobIdOf(payload),
          attempts,
          backoff: { type: "exponential", delay: options.backoffMs ?? 1000 },
          removeOnComplete: { age: keep },
          removeOnFail: { age: keep * 7 },
        },
      })),
    );
    const states = await Promise.all(jobs.map((job) => job.getState()));
    let alreadyFinished = 0;
    await Promise.all(
      jobs.map(async (job, i) => {
        if (states[i] === "failed") await job.retry("failed");
        if (states[i] === "completed") alreadyFinished++;
      }),
    );
    options.onQueued?.({ jobs: jobs.length, workers: await queue.getWorkersCount(), alreadyFinished });

    const runsOf = options.runsOf ?? (() => 1);
    const total = payloads.reduce((sum, payload) => sum + runsOf(payload), 0);
    const done = new Map<string, number>();
    const report = (): void => options.onProgress?.([...done.values()].reduce((a, b) => a + b, 0), total);
    events.on("progress", ({ jobId, data }: { jobId: string; data: unknown }) => {
      if (typeof data === "object" && data !== null && typeof (data as { done?: unknown }).done === "number") {
        done.set(jobId, (data as { done: number }).done);
        report();
      }
    });

    return await Promise.all(
      jobs.map(async (job, i) => {
        const payload = payloads[i];
        if (!payload || job.id === undefined) throw new DistributedError("queue: a job was not added");
        let result: unknown;
        try {
          result = await job.waitUntilFinished(events);
        } catch (error) {
          throw new DistributedError(
            `shard ${payload.shard.index}/${payload.shard.count} (job ${job.id} on queue "${name}") failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          );
        }
        done.set(job.id, runsOf(payload));
        report();
        const finished = await queue.getJob(job.id);
        return {
          payload,
          result,
          info: {
            jobId: job.id,
            shard: payload.shard,
            runs: runsOf(payload),
            attemptsStarted: finished?.attemptsStarted ?? 1,
            attemptsMade: finished?.attemptsMade ?? 0,
            stalledCounter: finished?.stalledCounter ?? 0,
          },
        };
      }),
    );
  } finally {
    await events.close();
    await queue.close();
  }
}

/** Runs a sweep on the workers listening on the queue: one job per shard; returns the merged rows. */
export async function submitSweep(spec: SweepSpec, options: SubmitOptions): Promise<SweepRow[]> {
  const runs = expandSweep(spec);
  // Refuse a bad setting here, with its message, rather than as N failed jobs.
  for (const run of runs) scenarioFor(spec.scenario, run);
  const shards = Math.min(options.shards, Math.max(1, runs.length));
  const runsIn = (shard: Shard): number => runs.filter((run) => run.index % shard.count === shard.index - 1).length;
  const finished = await submitShardJobs(sweepJobs(spec, shards), { ...options, runsOf: (payload) => runsIn(payload.shard) });
  const parts = finished.map(({ payload, result, info }) => {
    const parsed = sweepResultSchema.safeParse(result);
    if (!parsed.success) throw new DistributedError(`job ${info.jobId}: not a sweep result: ${describeIssues(parsed.error)}`);
    if (parsed.data.rows.length !== info.runs) {
      throw new DistributedError(`job ${info.jobId}: ${parsed.data.rows.length} rows for shard ${payload.shard.index}/${payload.shard.count}, expected ${info.runs}`);
    }
    options.onJob?.({ ...info, worker: parsed.data.worker, seconds: parsed.data.seconds });
    return parsed.data.rows;
  });
  return mergeSweepRows(parts);
}

// ---------------------------------------------------------------------------------------------
// Working.

export interface WorkerOptions {
  readonly redisUrl: string;
  readonly queue?: string;
  /** Jobs (shards) at once in this process (default 1). */
  readonly concurrency?: number;
  /** Worker threads per job, at least 1 (default: the cores divided by concurrency). */
  readonly workers?: number;
  /** A job's lock lasts this long unless renewed (default 10 s; renewed every half of it). */
  readonly lockDurationMs?: number;
  /** How often this worker looks for stalled jobs: active, but their lock expired (default 5 s). */
  readonly stalledIntervalMs?: number;
  /** Stalls a job survives before it fails for good (default 2). */
  readonly maxStalledCount?: number;
  /** What the worker does, one line at a time (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface WorkerHandle {
  /** The underlying BullMQ worker. */
  readonly worker: Worker<unknown, unknown, string>;
  readonly queue: string;
  /** Stops taking jobs; waits for the running ones unless `force`. */
  close(force?: boolean): Promise<void>;
}

function label(job: Job<unknown, unknown, string>): string {
  const envelope = envelopeSchema.safeParse(job.data);
  return envelope.success ? `${envelope.data.kind} shard ${envelope.data.shard.index}/${envelope.data.shard.count}` : job.name;
}

/** Runs jobs from the queue until closed. Each job runs its shard in worker threads and returns its rows. */
export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  await checkRedis(options.redisUrl);
  const name = options.queue ?? DEFAULT_QUEUE;
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new DistributedError(`--concurrency: expected a whole number >= 1, found ${concurrency}`);
  const threads = options.workers ?? Math.max(1, Math.floor(availableParallelism() / concurrency));
  // Runs in this thread would block the event loop, and with it the renewal of the job's lock.
  if (!Number.isInteger(threads) || threads < 1) throw new DistributedError(`--workers: expected a whole number >= 1 (runs go to worker threads so the job's lock stays renewed), found ${threads}`);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const lockDuration = options.lockDurationMs ?? 10_000;

  const worker = new Worker<unknown, unknown, string>(
    name,
    async (job) => {
      const id = job.id ?? "?";
      log(`job ${id} started (${label(job)}, attempt ${job.attemptsStarted}${job.stalledCounter > 0 ? `, stalled ${job.stalledCounter}x before` : ""})`);
      const envelope = envelopeSchema.safeParse(job.data);
      if (!envelope.success) throw new UnrecoverableError(`job ${id}: not an overcommit job payload: ${describeIssues(envelope.error)}`);
      const run = kinds.get(envelope.data.kind);
      if (!run) {
        throw new UnrecoverableError(
          `job ${id}: unknown kind "${envelope.data.kind}": this worker runs ${[...kinds.keys()].map((k) => `"${k}"`).join(", ")} (update overcommit on the workers?)`,
        );
      }
      return run(job.data, {
        jobId: id,
        workers: threads,
        progress: (done, total) => {
          job.updateProgress({ done, total }).catch(() => undefined);
        },
      });
    },
    {
      connection: connection(options.redisUrl),
      concurrency,
      lockDuration,
      stalledInterval: options.stalledIntervalMs ?? 5_000,
      maxStalledCount: options.maxStalledCount ?? 2,
    },
  );
  worker.on("completed", (job) => log(`job ${job.id ?? "?"} done (${label(job)})`));
  worker.on("failed", (job, error) => log(`job ${job?.id ?? "?"} failed: ${error.message}`));
  worker.on("stalled", (jobId) => log(`job ${jobId} stalled (its worker stopped renewing the lock): back in the queue`));
  worker.on("error", (error) => log(`worker error: ${error.message}`));
  await worker.waitUntilReady();
  log(`worker ${hostname()}:${process.pid} on ${options.redisUrl}, queue "${name}": ${concurrency} job(s) at once, ${threads} thread(s) per job`);
  return {
    worker,
    queue: name,
    close: (force = false) => worker.close(force),
  };
}
