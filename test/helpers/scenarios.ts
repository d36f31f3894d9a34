// Small scenarios and a per-second recorder for the policy tests (test/policy-*.test.ts).
//
// Every policy test runs a Host (src/sim/host.ts) one simulated second at a time and looks at what
// changed in that second: `runTicks` takes a snapshot after every step (the state the step's
// mechanisms ran in, free memory, and per VM the counters the tests reason about) and hands each
// (previous, current) pair to a checker. Snapshots are cheap (a few counter reads), so checking every
// second of a run costs little next to the run itself.
import { Host } from "../../src/sim/host.ts";
import { parseScenario, type Scenario, type ScenarioInput } from "../../src/sim/scenario.ts";
import { SEEDS_STORY } from "../../src/sim/seeds-story.ts";
import { scaleScenario } from "../../src/sim/scale.ts";
import type { MemoryState } from "../../src/policy/memory-state.ts";

/** 4 KiB pages per MiB. */
export const MIB_PAGES = 256;

/** The seeds' story (src/sim/seeds-story.ts) at `scale` of its 4 GiB, with the given idle tax. */
export function storyScenario(options: { scale: number; idleTax: number; seed?: number; durationSec?: number }): Scenario {
  const input: ScenarioInput = {
    ...SEEDS_STORY,
    seed: options.seed ?? 1,
    durationSec: options.durationSec ?? SEEDS_STORY.durationSec,
    host: { ...SEEDS_STORY.host, idleTax: options.idleTax },
  };
  return scaleScenario(parseScenario(input, "seeds story"), options.scale);
}

/** What a test reasons about for one VM, after a step. */
export interface VmTick {
  readonly balloonPages: number;
  readonly guestFreePages: number;
  readonly guestPageOuts: number;
  readonly guestPageIns: number;
  readonly guestAllocatedPages: number;
  readonly doublePaging: number;
  readonly consumedPages: number;
  readonly swapOuts: number;
  readonly compressions: number;
  readonly swappedPages: number;
  readonly compressedPages: number;
  readonly balloonInflates: number;
}

/** The host after a step: `state` is the state that step's mechanisms ran in. */
export interface Tick {
  readonly nowSec: number;
  readonly state: MemoryState;
  readonly freeFrames: number;
  readonly vms: readonly VmTick[];
}

export function snapshot(host: Host): Tick {
  const vms = host.vmNames.map((_, vm): VmTick => {
    const c = host.machine.vmCounters(vm);
    const guest = host.guest(vm);
    return {
      balloonPages: guest.balloonPages,
      guestFreePages: guest.freePages,
      guestPageOuts: guest.counters.pageOuts,
      guestPageIns: guest.counters.pageIns,
      guestAllocatedPages: guest.allocatedPages,
      doublePaging: guest.counters.doublePaging,
      consumedPages: host.consumedPages(vm),
      swapOuts: c.swapOuts,
      compressions: c.compressions,
      swappedPages: c.swappedPages,
      compressedPages: c.compressedPages,
      balloonInflates: c.balloonInflates,
    };
  });
  return { nowSec: host.nowSec, state: host.state, freeFrames: host.machine.hostCounters().framesFree, vms };
}

/** Runs `seconds` steps; calls `check(previous, current)` after each. Returns every snapshot (first: before the run). */
export function runTicks(host: Host, seconds: number, check?: (previous: Tick, current: Tick) => void): Tick[] {
  const ticks: Tick[] = [snapshot(host)];
  for (let i = 0; i < seconds; i++) {
    host.step();
    const current = snapshot(host);
    check?.(ticks[ticks.length - 1] ?? current, current);
    ticks.push(current);
  }
  return ticks;
}

/** Builds a Host for the scenario, gives it to `fn`, and disposes of it (swap files) whatever happens. */
export function withHost<T>(scenario: Scenario | ScenarioInput, fn: (host: Host) => T): T {
  // A parsed scenario is valid input too, so parsing again changes nothing.
  const host = new Host(parseScenario(scenario));
  try {
    return fn(host);
  } finally {
    host.dispose();
  }
}

/** The VM's pages in each tick. */
export const vmSeries = (ticks: readonly Tick[], vm: number): VmTick[] => ticks.map((t) => t.vms[vm] as VmTick);

export const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

/**
 * A small contended scenario (about half a second a run): an idle VM holding memory and a busy one
 * wanting it, so the idle memory tax moves memory. Sweep and distributed tests run it many times.
 */
export const SMALL_CONTENDED_SCENARIO: ScenarioInput = {
  name: "small",
  durationSec: 300,
  host: { memoryMiB: 48, settings: { samplePeriodSec: 10 } },
  vms: [
    { name: "idle", memoryMiB: 32 },
    { name: "busy", memoryMiB: 32 },
  ],
  timeline: [
    { atSec: 0, vm: "idle", action: "boot", MiB: 8 },
    { atSec: 2, vm: "idle", action: "grow", toMiB: 28, rateMiBPerSec: 4 },
    { atSec: 20, vm: "idle", action: "idle", workingSetMiB: 2 },
    { atSec: 20, vm: "busy", action: "boot", MiB: 8 },
    { atSec: 22, vm: "busy", action: "grow", toMiB: 28, rateMiBPerSec: 4 },
  ],
};
