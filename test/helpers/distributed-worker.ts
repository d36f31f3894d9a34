// A worker process for test/distributed.test.ts (what `overcommit worker` runs):
//   node --import tsx test/helpers/distributed-worker.ts <redis-url> <queue> <lockMs> <stalledMs>
// Logs one line per event on stdout ("job <id> started ..." first thing in a job, so the test
// can SIGKILL it while it holds the job) and closes cleanly on SIGTERM.
import { startWorker } from "../../src/distributed/bullmq.ts";

const [redisUrl = "", queue = "", lockMs = "10000", stalledMs = "5000"] = process.argv.slice(2);
const handle = await startWorker({
  redisUrl,
  queue,
  concurrency: 1,
  workers: 1,
  lockDurationMs: Number(lockMs),
  stalledIntervalMs: Number(stalledMs),
  maxStalledCount: 2,
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write("ready\n");
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    handle.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
