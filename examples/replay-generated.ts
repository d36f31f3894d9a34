// Generate a synthetic trace (VMs booting the same OS, then zipfian working sets) and replay it
// on an overcommitted host, streaming. Run: npx tsx examples/replay-generated.ts
import { generateTrace, replayTrace } from "overcommit";

const trace = generateTrace({ vms: 4, vmMiB: 32, events: 400_000, durationSec: 120, seed: 7n, workload: "boot", writePct: 20 });
const { host, summary } = await replayTrace(trace, { hostMiB: 96, metricsIntervalSec: 30 });
try {
  console.log(`${summary.events} events over ${summary.simSec} simulated seconds: ${Math.round(summary.eventsPerSec).toLocaleString("en-US")} events/s`);
  const counters = host.machine.hostCounters();
  console.log(`shared frames ${counters.sharedFrames}, pages saved ${counters.savedPages}, free ${(counters.framesFree / 256).toFixed(1)} MiB`);
  const last = host.metrics.vms.slice(-4);
  for (const row of last) console.log(`${row.vm}: GRANT ${row.GRANT.toFixed(1)} MiB, SHRD ${row.SHRD.toFixed(1)}, MCTLSZ ${row.MCTLSZ.toFixed(1)}, SWCUR ${row.SWCUR.toFixed(1)}, ZIP ${row.ZIP.toFixed(1)}`);
} finally {
  host.dispose();
}
