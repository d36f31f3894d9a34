// A simulated host built in code: two VMs, a workload, events as they happen, counters at any
// time. Run: npx tsx examples/host-from-code.ts
import { Host } from "overcommit";

const host = Host.fromScenario(
  {
    seed: 42,
    durationSec: 300,
    host: { memoryMiB: 96, profile: "esx4", idleTax: 0.75 },
    vms: [{ name: "web", memoryMiB: 64 }],
  },
  { swap: "memory" }, // keep swapped pages in memory: no files
);
try {
  host.addVm({ name: "batch", memoryMiB: 64, content: { osSeed: 1 } });
  host.schedule({ atSec: 0, vm: "web", action: "boot", MiB: 16 });
  host.schedule({ atSec: 5, vm: "web", action: "grow", toMiB: 48, rateMiBPerSec: 4 });
  host.schedule({ atSec: 60, vm: "batch", action: "boot", MiB: 16 });
  host.schedule({ atSec: 70, vm: "batch", action: "grow", toMiB: 56, rateMiBPerSec: 4 });

  host.on("state", (e) => e.type === "state" && console.log(`${e.timeSec}s  host state ${e.from} -> ${e.to}`));
  host.on("balloon", (e) => e.type === "balloon" && e.change !== "stopped" && console.log(`${e.timeSec}s  ${e.vm} balloon ${e.change}`));

  host.run(120);
  console.log("at 120 s:", host.vmSummary(0).consumedMiB.toFixed(1), "MiB consumed by web");
  host.run(180);
  for (const name of host.vmNames) {
    const s = host.vmSummary(host.vmId(name) ?? 0);
    console.log(`${name}: consumed ${s.consumedMiB.toFixed(1)} MiB, target ${s.targetMiB.toFixed(1)}, balloon ${s.balloonMiB.toFixed(1)}, swapped ${s.swappedMiB.toFixed(1)}`);
  }
  console.log("seconds per state:", host.stateSeconds);
} finally {
  host.dispose();
}
