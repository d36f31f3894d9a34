// Determinism: the same scenario and seed give the same run, byte for byte: every event, metric
// sample, state-second and final counter of runScenario's result (all but wallSeconds) is equal
// across runs, and also when two hosts run the same scenario interleaved second by second (no state
// shared between hosts). A different seed gives a different run.
import { describe, expect, it } from "vitest";
import { Host } from "../src/sim/host.ts";
import { runScenario, type RunResult } from "../src/sim/run.ts";
import { parseScenario, type Scenario } from "../src/sim/scenario.ts";

/** Ballooning, compression, swap, guest paging, sharing, blocking and I/O remapping in 150 s. */
function busyScenario(seed: number): Scenario {
  const content = { compressiblePct: 60 };
  return parseScenario({
    name: "busy",
    seed,
    durationSec: 150,
    host: { memoryMiB: 32, lowMemoryMiB: 2, idleTax: 0.75, settings: { balloonRateMiBPerSec: 0.125, swapRateMiBPerSec: 0.25, shareScanTimeMin: 2 } },
    vms: [
      { name: "A", memoryMiB: 32, content },
      { name: "B", memoryMiB: 32, content },
    ],
    timeline: [
      { atSec: 0, vm: "A", action: "boot", MiB: 8 },
      { atSec: 5, vm: "A", action: "grow", toMiB: 20, rateMiBPerSec: 2 },
      { atSec: 30, vm: "A", action: "free", MiB: 12 },
      { atSec: 30, vm: "A", action: "active", workingSetMiB: 8 },
      { atSec: 35, vm: "A", action: "io", fromGpn: 0, pages: 32, ratePerSec: 100, durationSec: 60 },
      { atSec: 40, vm: "B", action: "boot", MiB: 8, rateMiBPerSec: 2 },
      { atSec: 50, vm: "B", action: "grow", toMiB: 24, rateMiBPerSec: 1 },
    ],
  });
}

const withoutWallClock = (result: RunResult): Omit<RunResult, "wallSeconds"> => {
  const { wallSeconds, ...rest } = result;
  void wallSeconds;
  return rest;
};

describe("determinism", () => {
  it("the same scenario and seed give identical results; another seed does not", () => {
    const first = runScenario(busyScenario(1));
    const second = runScenario(busyScenario(1));
    const other = runScenario(busyScenario(2));
    console.log(
      `determinism: ${first.events.length} events, ${first.metrics.vms.length} VM samples; states ${JSON.stringify(first.stateSeconds)}; ` +
        `seed 2: ${other.events.length} events, states ${JSON.stringify(other.stateSeconds)}`,
    );
    // The run did exercise the mechanisms whose randomness matters.
    expect(first.stateSeconds.hard + first.stateSeconds.low).toBeGreaterThan(0);
    expect(first.vms.some((vm) => vm.swapOuts > 0)).toBe(true);
    expect(first.vms.some((vm) => vm.balloonMiB > 0)).toBe(true);
    expect(first.host.io.remaps).toBeGreaterThan(0);
    expect(withoutWallClock(second)).toEqual(withoutWallClock(first));
    expect(withoutWallClock(other)).not.toEqual(withoutWallClock(first));
    expect(other.metrics).not.toEqual(first.metrics);
  });

  it("two hosts stepped in turn run exactly as one alone", () => {
    const alone = runScenario(busyScenario(3));
    const hosts = [new Host(busyScenario(3)), new Host(busyScenario(3))];
    try {
      for (let t = 0; t < 150; t++) for (const host of hosts) host.step();
      for (const host of hosts) {
        expect(host.metrics).toEqual(alone.metrics);
        expect(host.events).toEqual(alone.events);
        expect(host.vmNames.map((_, vm) => host.vmSummary(vm))).toEqual(alone.vms);
      }
    } finally {
      for (const host of hosts) host.dispose();
    }
  });
});
