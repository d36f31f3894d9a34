// Sweeps on BullMQ, for real: a redis-server of our own (loopback, no persistence), two worker
// PROCESSES, one of them killed with SIGKILL while it holds a job. The merged rows must equal a
// local run exactly, and the killed worker's job must have run again on the other worker.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, QueueEvents } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRedis, jobIdOf, submitShardJobs, submitSweep, type JobInfo } from "../src/distributed/bullmq.ts";
import { parseScenario } from "../src/sim/scenario.ts";
import { runSweep } from "../src/sim/sweep.ts";
import { SMALL_CONTENDED_SCENARIO } from "./helpers/scenarios.ts";

const scenario = parseScenario(SMALL_CONTENDED_SCENARIO);
const spec = { scenario, set: { tax: [0, 0.75] }, seeds: [1n, 2n, 3n, 4n] }; // 8 runs
const QUEUE = `test-${process.pid}`;
// Short lock and stall check, so a dead worker's job is back in the queue within seconds.
const LOCK_MS = 3000;
const STALLED_MS = 1000;

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly name: string;
}

const dir = mkdtempSync(join(tmpdir(), "overcommit-distributed-"));
const children: ChildProcess[] = [];
const workers: WorkerProcess[] = [];
let redisUrl = "";

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (!alive(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// Even if vitest is torn down without afterAll, leave no redis-server or worker behind.
process.once("exit", () => {
  for (const child of children) if (alive(child)) child.kill("SIGKILL");
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function startWorkerProcess(name: string): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "test/helpers/distributed-worker.ts", redisUrl, QUEUE, String(LOCK_MS), String(STALLED_MS)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const worker: WorkerProcess = { child, lines: [], name };
  let partial = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      worker.lines.push(line);
      child.emit("line", line);
    }
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => worker.lines.push(`stderr: ${chunk.trimEnd()}`));
  return worker;
}

function waitForLine(worker: WorkerProcess, pattern: RegExp, ms: number): Promise<string> {
  const seen = worker.lines.find((line) => pattern.test(line));
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${worker.name}: no line matching ${pattern} in ${ms} ms; it printed:\n${worker.lines.join("\n")}`)), ms);
    const onLine = (line: string): void => {
      if (!pattern.test(line)) return;
      clearTimeout(timer);
      worker.child.off("line", onLine);
      resolve(line);
    };
    worker.child.on("line", onLine);
    worker.child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${worker.name} exited (${code ?? signal}) before printing ${pattern}:\n${worker.lines.join("\n")}`));
    });
  });
}

beforeAll(async () => {
  const probe = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (probe.error) {
    throw new Error(
      `redis-server not found (${probe.error.message}): this test runs a real Redis. Install it: apt-get install -y redis-server ` +
        "(CI's .ci/run installs it before npm test)",
    );
  }
  const port = await freePort();
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(redis);
  let redisLog = "";
  redis.stdout?.on("data", (chunk: Buffer) => (redisLog += chunk.toString()));
  redis.stderr?.on("data", (chunk: Buffer) => (redisLog += chunk.toString()));
  redisUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      await checkRedis(redisUrl, 500);
      break;
    } catch (error) {
      if (i >= 50 || !alive(redis)) throw new Error(`redis-server on port ${port} did not come up: ${String(error)}\n${redisLog}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  workers.push(startWorkerProcess("worker A"), startWorkerProcess("worker B"));
  await Promise.all(workers.map((worker) => waitForLine(worker, /^ready$/, 30_000)));
}, 60_000);

afterAll(async () => {
  // Workers first (SIGTERM: they close cleanly), then Redis; SIGKILL whatever lingers.
  const stopping = children.filter(alive);
  for (const child of stopping) child.kill("SIGTERM");
  await Promise.all(
    stopping.map(async (child) => {
      if (!(await exited(child, 5000))) child.kill("SIGKILL");
    }),
  );
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe("sweeps on BullMQ", () => {
  let killedJob = "";
  let rows: Awaited<ReturnType<typeof submitSweep>> = [];
  const jobs: JobInfo[] = [];

  it("loses nothing when a worker is killed (SIGKILL) while it holds a job: the rows equal a local run", async () => {
    // Kill the first worker that says it started a job, at once: it holds the job's lock and can
    // neither finish nor give the job back. Only the lock's expiry tells the other worker.
    const victim = new Promise<WorkerProcess>((resolve) => {
      for (const worker of workers) {
        worker.child.on("line", (line: string) => {
          const match = /^job (\S+) started/.exec(line);
          if (match && killedJob === "") {
            killedJob = match[1] ?? "";
            worker.child.kill("SIGKILL");
            resolve(worker);
          }
        });
      }
    });
    const started = performance.now();
    rows = await submitSweep(spec, { redisUrl, shards: 4, queue: QUEUE, onJob: (info) => jobs.push(info) });
    const seconds = (performance.now() - started) / 1000;
    const killed = await victim;
    expect(await exited(killed.child, 1000)).toBe(true);
    expect(killed.child.signalCode).toBe("SIGKILL");
    const survivor = workers.find((worker) => worker !== killed);
    if (!survivor) throw new Error("no surviving worker");

    // Exactly the table of running the sweep alone, in this process.
    const local = await runSweep(spec, { workers: 0 });
    expect(rows).toHaveLength(8);
    expect(rows).toEqual(local);

    // The killed worker's job went back to the queue (stalled) and ran again on the survivor.
    const retried = jobs.find((job) => job.jobId === killedJob);
    expect(retried, `job ${killedJob} in ${JSON.stringify(jobs)}`).toBeDefined();
    expect(retried?.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(retried?.stalledCounter).toBeGreaterThanOrEqual(1);
    expect(retried?.worker.endsWith(`:${survivor.child.pid}`)).toBe(true);
    expect(survivor.lines.some((line) => line.startsWith(`job ${killedJob} started`) && /attempt 2/.test(line))).toBe(true);
    expect(jobs.map((job) => job.shard.index).sort()).toEqual([1, 2, 3, 4]);
    process.stderr.write(
      `distributed: ${rows.length} rows in ${seconds.toFixed(1)} s; killed ${killed.name} (pid ${killed.child.pid}) holding ${killedJob}; ` +
        `it ran again on ${retried?.worker} (started ${retried?.attemptsStarted}x, stalled ${retried?.stalledCounter}x)\n`,
    );
  }, 60_000);

  it("resubmitting the same sweep reuses the finished jobs: same rows, nothing runs again", async () => {
    const survivor = workers.find((worker) => alive(worker.child));
    if (!survivor) throw new Error("no surviving worker");
    const before = survivor.lines.length;
    const again: JobInfo[] = [];
    expect(await submitSweep(spec, { redisUrl, shards: 4, queue: QUEUE, onJob: (info) => again.push(info) })).toEqual(rows);
    expect(again.map((job) => job.jobId).sort()).toEqual(jobs.map((job) => job.jobId).sort());
    expect(survivor.lines.slice(before).filter((line) => / started/.test(line))).toEqual([]);
  }, 30_000);

  it("fails a bad payload at once with a clear error, without retrying it", async () => {
    const queue = new Queue(QUEUE, { connection: { url: redisUrl } });
    const events = new QueueEvents(QUEUE, { connection: { url: redisUrl } });
    try {
      await events.waitUntilReady();
      const shard = { index: 1, count: 1 };
      const cases: [unknown, RegExp][] = [
        [{ hello: "world" }, /not an overcommit job payload: kind: /],
        [{ kind: "cluster", format: 1, hosts: 1000, shard }, /unknown kind "cluster": this worker runs "sweep"/],
        [{ kind: "sweep", format: 1, spec: { scenario: { name: "x" }, set: {}, seeds: ["1"] }, shard }, /invalid sweep payload: .*durationSec/s],
        [{ kind: "sweep", format: 1, spec: { scenario, set: {}, seeds: [1] }, shard }, /invalid sweep payload: spec\.seeds\.0/],
        [{ kind: "sweep", format: 1, spec: { scenario, set: { "host.nothing.deeper": [1] }, seeds: ["1"] }, shard }, /no "host\.nothing"/],
      ];
      for (const [i, [data, message]] of cases.entries()) {
        const job = await queue.add("bad", data, { jobId: `bad-${i}`, attempts: 3, backoff: 100 });
        await expect(job.waitUntilFinished(events, 20_000)).rejects.toThrow(message);
        const failed = await queue.getJob(`bad-${i}`);
        expect(failed?.attemptsStarted).toBe(1);
        expect(await failed?.getState()).toBe("failed");
      }
      // Submitting a job that failed for good runs it again (here: fails again, the same way).
      const cluster = { kind: "cluster", format: 1, shard };
      for (const attempt of [1, 2]) {
        await expect(submitShardJobs([cluster], { redisUrl, queue: QUEUE })).rejects.toThrow(/shard 1\/1 \(job cluster-\w+-1of1 .*\) failed: .*unknown kind "cluster"/);
        expect((await queue.getJob(jobIdOf(cluster)))?.attemptsStarted).toBe(attempt);
      }
    } finally {
      await events.close();
      await queue.close();
    }
  }, 60_000);

  it("says which Redis did not answer, and that a server must run there", async () => {
    await expect(submitSweep(spec, { redisUrl: "redis://127.0.0.1:1", shards: 2 })).rejects.toThrow(
      /cannot reach Redis at redis:\/\/127\.0\.0\.1:1 .*a Redis server must be running there/,
    );
    await expect(checkRedis("http://127.0.0.1:6379")).rejects.toThrow(/expected a redis:\/\/ or rediss:\/\/ URL/);
  });
});
