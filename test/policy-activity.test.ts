// Activity sampling (src/policy/activity.ts): the host's estimate of each VM's active fraction.
//
// The estimator alone, on a real Machine, with pages touched all or none each period so that every
// sample counts exactly 1 or 0 whatever pages it drew: the estimate is 1 until a period has been
// measured, then the highest of a fast (gain 0.5) and a slow (gain 0.1) moving average and the
// latest count: it rises to a new level at the first period's end and falls along the averages.
//
// In a run (one 64 MiB VM, ESX 4's 60 s period, 100 pages sampled per period, the working set
// stepped 12 -> 40 -> 12 MiB): the estimate tracks the true active fraction (the distinct guest
// pages touched in the period, which the guest model counts) with a small mean absolute error in
// steady phases, reaches a raised working set within a period, and takes many periods to come down.
import { afterEach, describe, expect, it } from "vitest";
import { Machine } from "../src/core/machine.ts";
import { ActivitySampler } from "../src/policy/activity.ts";
import { Random } from "../src/sim/random.ts";
import type { ScenarioInput } from "../src/sim/scenario.ts";
import { mean, withHost } from "./helpers/scenarios.ts";

const machines: Machine[] = [];
afterEach(() => {
  for (const machine of machines.splice(0)) machine.dispose();
});

describe("ActivitySampler", () => {
  it("rises at once to a measured increase and falls along the slow average", () => {
    const pages = 512;
    const machine = Machine.create({ frames: 1024 });
    machines.push(machine);
    const vm = machine.addVm({ pages });
    const all = Uint32Array.from({ length: pages }, (_, i) => i);
    machine.writeSeeds(vm, all, Array.from(all, (i) => BigInt(i + 1)));
    const period = 10;
    const sampler = new ActivitySampler(machine, vm, { samplePeriodSec: period, samplePages: 100 }, new Random(99n));
    // Per period: does the guest touch every page (1) or none (0)?
    const touchedPerPeriod = [0, 0, 1, 0, 0, 0, 0, 0];
    const atPeriodEnds: number[] = [];
    expect(sampler.estimate).toBe(1); // nothing measured yet: assume all active
    for (let sec = 0; sec <= touchedPerPeriod.length * period; sec++) {
      sampler.tick(sec);
      if (sec > 0 && sec % period === 0) atPeriodEnds.push(sampler.estimate);
      const period_ = Math.floor(sec / period);
      if (touchedPerPeriod[period_] === 1) machine.touch(vm, all);
      // Within a period the estimate never drops below what the last full period measured.
      if (sec % period !== 0 && sec > period) expect(sampler.estimate).toBeGreaterThanOrEqual(atPeriodEnds[atPeriodEnds.length - 1] ?? 0);
    }
    // Worked out by hand: fast f += 0.5 (x - f), slow s += 0.1 (x - s), estimate max(f, s, x).
    //   x: 0 0 1 0 0 0 0 0
    //   f: 0 0 .5 .25 .125 .0625 .03125 .015625
    //   s: 0 0 .1 .09 .081 .0729 .06561 .059049
    const expected = [0, 0, 1, 0.25, 0.125, 0.0729, 0.06561, 0.059049];
    atPeriodEnds.forEach((e, i) => expect(e, `estimate at the end of period ${i + 1}`).toBeCloseTo(expected[i] ?? Number.NaN, 9));
    expect(sampler.fastAverage).toBeCloseTo(0.015625, 9);
    expect(sampler.slowAverage).toBeCloseTo(0.059049, 9);
  });
});

describe("in a run", () => {
  const PERIOD = 60;
  const scenario: ScenarioInput = {
    name: "activity steps",
    seed: 21,
    durationSec: 2700,
    host: { memoryMiB: 128 },
    vms: [{ name: "vm", memoryMiB: 64 }],
    timeline: [
      // 60 MiB allocated in the first second (before sampling starts); the working set is the
      // newest 12 MiB, then 40 MiB, then 12 MiB again.
      { atSec: 0, vm: "vm", action: "boot", MiB: 60 },
      { atSec: 0, vm: "vm", action: "active", workingSetMiB: 12 },
      { atSec: 600, vm: "vm", action: "active", workingSetMiB: 40 },
      { atSec: 1200, vm: "vm", action: "active", workingSetMiB: 12 },
    ],
  };

  it("tracks the true active fraction, reacts to an increase within a period and to a decrease over many", () => {
    const run = withHost(scenario, (host) => {
      const perSecond: { sec: number; estimate: number }[] = [];
      const periodEnds: { sec: number; estimate: number; truth: number }[] = [];
      for (let t = 0; t < scenario.durationSec; t++) {
        host.step();
        const sec = host.nowSec - 1;
        const summary = host.vmSummary(0);
        perSecond.push({ sec, estimate: summary.activeEstimate });
        // At a period's end both the sample and the truth cover the same seconds.
        if (sec > 0 && sec % PERIOD === 0) periodEnds.push({ sec, estimate: summary.activeEstimate, truth: summary.activeTrue });
      }
      return { perSecond, periodEnds };
    });
    const level = (from: number, to: number): number => mean(run.periodEnds.filter((p) => p.sec > from && p.sec <= to).map((p) => p.truth));
    const low = level(0, 600);
    const high = level(600 + PERIOD, 1200);
    // Steady phases: the first ten periods, and the high phase from its second period on.
    const steady = run.periodEnds.filter((p) => p.sec <= 600 || (p.sec >= 600 + 2 * PERIOD && p.sec <= 1200));
    const errors = steady.map((p) => Math.abs(p.estimate - p.truth));
    const mae = mean(errors);
    const firstAbove = (from: number, threshold: number): number => (run.perSecond.find((p) => p.sec >= from && p.estimate >= threshold)?.sec ?? Number.POSITIVE_INFINITY) - from;
    const firstBelow = (from: number, threshold: number): number => (run.perSecond.find((p) => p.sec >= from && p.estimate <= threshold)?.sec ?? Number.POSITIVE_INFINITY) - from;
    const riseSec = firstAbove(600, 0.9 * high);
    const fallSec = firstBelow(1200, low + 0.05);
    const firstEndAfterRise = run.periodEnds.find((p) => p.sec === 600 + PERIOD)?.estimate ?? 0;
    console.log(
      `activity: true fraction ${low.toFixed(3)} -> ${high.toFixed(3)} -> ${low.toFixed(3)}; mean absolute error ${mae.toFixed(3)} ` +
        `(max ${Math.max(...errors).toFixed(3)}) over ${steady.length} steady periods of 100 samples; ` +
        `reaches 90% of a rise in ${riseSec} s (estimate ${firstEndAfterRise.toFixed(3)} at the first period's end), ` +
        `comes within 0.05 of a fall in ${fallSec} s (${(fallSec / PERIOD).toFixed(1)} periods)`,
    );
    // 100 samples of a fraction p have a standard deviation sqrt(p (1 - p) / 100) <= 0.05, and the
    // estimate is the highest of three estimators, biased up by a few hundredths in steady phases:
    // 0.1 is twice the sampling error plus that bias.
    expect(mae).toBeLessThan(0.1);
    expect(high - low).toBeGreaterThan(0.3);
    // Up: within two periods (the running period's partial count carries it), and the first full
    // period after the step already counts most of the new level.
    expect(riseSec).toBeLessThanOrEqual(2 * PERIOD);
    expect(firstEndAfterRise).toBeGreaterThan(0.8 * high);
    // Down: the slow average holds the estimate up for many periods, but it gets there.
    expect(fallSec).toBeGreaterThanOrEqual(5 * PERIOD);
    expect(fallSec).toBeLessThan(1500);
    expect(fallSec).toBeGreaterThan(5 * riseSec);
  });
});
