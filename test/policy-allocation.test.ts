// Share-based allocation with the idle memory tax (src/policy/allocation.ts), as a function and in
// runs.
//
// `computeTargets`: with tax 0 equal shares and equal demand give equal targets and shares 2:1 give
// 2:1; reservations are never reclaimed and limits never exceeded; with tax 0.75 the VM with more
// active pages keeps more (checked against the allocation worked out by hand); under contention the
// targets fill the memory available; and as properties over random requests: bounds, filling,
// more shares never mean less memory, a higher tax never takes memory from the more active VM.
//
// Runs: the seeds' story (scaled to 1/32: a 128 MiB host) ends with equal halves at tax 0 and with
// the more active VM2 clearly ahead at tax 0.75; the OSDI 2002 idle-tax experiment (one idle VM with
// much memory allocated, one active VM) moves memory to the active VM monotonically as the tax goes
// 0 -> 0.5 -> 0.75; and, every simulated second, no VM falls below its reservation once it held it
// and none exceeds its limit.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeTargets, idleCostFactor, sharesPerPage, type AllocationRequest } from "../src/policy/allocation.ts";
import { runScenario } from "../src/sim/run.ts";
import { parseScenario, type ScenarioInput } from "../src/sim/scenario.ts";
import { MIB_PAGES, runTicks, storyScenario, withHost } from "./helpers/scenarios.ts";

const request = (overrides: Partial<AllocationRequest> = {}): AllocationRequest => ({
  shares: 1000,
  reservationPages: 0,
  limitPages: 10_000,
  demandPages: 10_000,
  activePages: 5_000,
  ...overrides,
});
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe("computeTargets", () => {
  it("tax 0: equal shares and equal demand give equal targets that fill the memory", () => {
    const result = computeTargets([request({ activePages: 9000 }), request({ activePages: 1000 })], 12_000, 0);
    expect(result.contended).toBe(true);
    expect(result.targets).toEqual([6000, 6000]);
  });

  it("tax 0: shares 2:1 give targets 2:1", () => {
    const result = computeTargets([request({ shares: 2000 }), request({ shares: 1000 })], 12_000, 0);
    expect(result.targets).toEqual([8000, 4000]);
    // Min-funding revocation equalises shares per page.
    expect(result.rho[0]).toBeCloseTo(result.rho[1] ?? 0, 6);
  });

  it("without contention every VM gets its demand", () => {
    const result = computeTargets([request({ demandPages: 3000 }), request({ demandPages: 5000, shares: 1 })], 12_000, 0.75);
    expect(result.contended).toBe(false);
    expect(result.targets).toEqual([3000, 5000]);
  });

  it("a reservation is never reclaimed, whatever the shares", () => {
    const result = computeTargets([request({ shares: 1, reservationPages: 5000 }), request({ shares: 100_000 })], 12_000, 0.75);
    expect(result.targets).toEqual([5000, 7000]);
    // Reservations above what is available: each VM keeps its reservation.
    const squeezed = computeTargets([request({ reservationPages: 7000 }), request({ reservationPages: 6000 })], 12_000, 0);
    expect(squeezed.targets).toEqual([7000, 6000]);
  });

  it("a limit is never exceeded, whatever the shares", () => {
    const result = computeTargets([request({ shares: 100_000, limitPages: 3000 }), request()], 12_000, 0);
    expect(result.targets).toEqual([3000, 9000]);
  });

  it("tax 0.75: the VM with more active pages keeps more (the allocation worked out by hand)", () => {
    // k = 4. A: 8000 active pages, B: 2000. At a common cost C each VM holds P = active + (C -
    // active) / 4; P_A + P_B = 12000 gives C = 9000: A 8250 pages, B 3750.
    expect(idleCostFactor(0.75)).toBe(4);
    const result = computeTargets([request({ activePages: 8000 }), request({ activePages: 2000 })], 12_000, 0.75);
    expect(Math.abs((result.targets[0] ?? 0) - 8250)).toBeLessThanOrEqual(1);
    expect(Math.abs((result.targets[1] ?? 0) - 3750)).toBeLessThanOrEqual(1);
    expect(sum(result.targets)).toBe(12_000);
    expect(result.rho[0]).toBeCloseTo(result.rho[1] ?? 0, 4);
    expect(sharesPerPage(1000, 8250, 8000, 4)).toBeCloseTo(1000 / 9000, 9);
  });

  const requestArb = fc
    .record({
      shares: fc.integer({ min: 1, max: 100_000 }),
      reservationPages: fc.integer({ min: 0, max: 4000 }),
      limitPages: fc.integer({ min: 1, max: 20_000 }),
      demandPages: fc.integer({ min: 0, max: 20_000 }),
      activePages: fc.integer({ min: 0, max: 20_000 }),
    })
    .map((r): AllocationRequest => ({ ...r, activePages: Math.min(r.activePages, r.limitPages) }));
  const arbs = [fc.array(requestArb, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 60_000 }), fc.constantFrom(0, 0.25, 0.5, 0.75, 0.9)] as const;

  it("property: targets within [the reservation it uses, min(limit, demand)]; under contention they fill the memory", () => {
    fc.assert(
      fc.property(...arbs, (requests, available, tax) => {
        const { targets, contended } = computeTargets(requests, available, tax);
        // An unused part of a reservation is not held idle: the floor is what the VM demands of it.
        const lo = requests.map((r) => Math.min(r.reservationPages, r.limitPages, r.demandPages));
        const hi = requests.map((r, i) => Math.max(lo[i] ?? 0, Math.min(r.limitPages, r.demandPages)));
        targets.forEach((t, i) => {
          expect(t).toBeGreaterThanOrEqual(lo[i] ?? 0);
          expect(t).toBeLessThanOrEqual(hi[i] ?? 0);
          expect(t).toBeLessThanOrEqual(requests[i]?.limitPages ?? 0);
        });
        const total = sum(targets);
        if (sum(hi) <= available) {
          expect(contended).toBe(false);
          expect(targets).toEqual(hi);
        } else if (sum(lo) >= available) {
          expect(targets).toEqual(lo);
        } else {
          expect(contended).toBe(true);
          expect(total).toBe(available);
        }
      }),
      { seed: 4242, numRuns: 1500 },
    );
  });

  it("property: more shares never mean fewer pages; a higher tax never takes pages from the more active VM", () => {
    fc.assert(
      fc.property(...arbs, fc.integer({ min: 2, max: 8 }), (requests, available, tax, factor) => {
        const base = computeTargets(requests, available, tax).targets[0] ?? 0;
        const richer = [{ ...(requests[0] as AllocationRequest), shares: (requests[0]?.shares ?? 1) * factor }, ...requests.slice(1)];
        expect(computeTargets(richer, available, tax).targets[0] ?? 0).toBeGreaterThanOrEqual(base - 1);
      }),
      { seed: 777, numRuns: 800 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1000, max: 20_000 }), (a, b, available) => {
        const [more, less] = a >= b ? [a, b] : [b, a];
        const requests = [request({ activePages: more }), request({ activePages: less })];
        let previous = -1;
        for (const tax of [0, 0.25, 0.5, 0.75, 0.9]) {
          const target = computeTargets(requests, available, tax).targets[0] ?? 0;
          expect(target).toBeGreaterThanOrEqual(previous - 1);
          previous = target;
        }
      }),
      { seed: 778, numRuns: 800 },
    );
  });
});

describe("in runs", () => {
  it("the seeds' story: tax 0 ends with equal halves, tax 0.75 leaves the more active VM2 clearly ahead", () => {
    const scale = 1 / 32;
    const hostMiB = 4096 * scale;
    const half = (hostMiB - 0.06 * hostMiB) / 2;
    const results = [0, 0.75].map((idleTax) => runScenario(storyScenario({ scale, idleTax })));
    const [flat, taxed] = results.map((r) => r.vms.map((vm) => vm.consumedMiB)) as [number[], number[]];
    const [vm1, vm2] = flat as [number, number];
    const [vm1Taxed, vm2Taxed] = taxed as [number, number];
    console.log(
      `story at 1/32 (host ${hostMiB} MiB, (host - 6%) / 2 = ${half.toFixed(1)} MiB): tax 0 VM1 ${vm1.toFixed(1)} / VM2 ${vm2.toFixed(1)} MiB; ` +
        `tax 0.75 VM1 ${vm1Taxed.toFixed(1)} / VM2 ${vm2Taxed.toFixed(1)} MiB (x32: ${(vm1Taxed * 32).toFixed(0)} / ${(vm2Taxed * 32).toFixed(0)} MiB); ` +
        `active estimates at 0.75: ${results[1]?.vms.map((vm) => vm.activeEstimate.toFixed(2)).join(" / ")}`,
    );
    expect(Math.abs(vm1 - vm2) / Math.max(vm1, vm2)).toBeLessThan(0.1);
    for (const consumed of flat) expect(Math.abs(consumed - half) / half).toBeLessThan(0.1);
    expect(vm2Taxed).toBeGreaterThan(1.15 * vm1Taxed);
    // The story is overcommitted and ends under contention: the two together fill memory down to high.
    expect(vm1Taxed + vm2Taxed).toBeGreaterThan(0.9 * 2 * half);
  });

  /**
   * The OSDI 2002 experiment (section 5.3, figure 6), qualitatively: two VMs with equal shares on a
   * host with less memory than both want. "idle" allocates 40 MiB, then keeps a 4 MiB working set;
   * "active" grows to a 48 MiB working set. Seeded.
   */
  const idleTaxExperiment = (idleTax: number): ScenarioInput => ({
    name: `idle tax ${idleTax}`,
    seed: 5,
    durationSec: 400,
    host: { memoryMiB: 64, idleTax, settings: { samplePeriodSec: 30 } },
    vms: [
      { name: "idle", memoryMiB: 64 },
      { name: "active", memoryMiB: 64 },
    ],
    timeline: [
      { atSec: 0, vm: "idle", action: "boot", MiB: 8 },
      { atSec: 2, vm: "idle", action: "grow", toMiB: 40, rateMiBPerSec: 4 },
      { atSec: 15, vm: "idle", action: "idle", workingSetMiB: 4 },
      { atSec: 0, vm: "active", action: "boot", MiB: 8 },
      { atSec: 2, vm: "active", action: "grow", toMiB: 48, rateMiBPerSec: 1 },
    ],
  });

  it("the idle-tax experiment: memory moves to the active VM as the tax rises 0 -> 0.5 -> 0.75", () => {
    const taxes = [0, 0.5, 0.75];
    const splits = taxes.map((tax) => {
      const result = runScenario(parseScenario(idleTaxExperiment(tax)));
      return { tax, idle: result.vms[0]?.consumedMiB ?? 0, active: result.vms[1]?.consumedMiB ?? 0 };
    });
    console.log(`idle-tax experiment (64 MiB host): ${splits.map((s) => `tax ${s.tax}: idle ${s.idle.toFixed(1)} / active ${s.active.toFixed(1)} MiB`).join("; ")}`);
    const [none] = splits;
    // No tax: an even split, whatever the activity.
    expect(Math.abs((none?.active ?? 0) - (none?.idle ?? 0)) / (none?.active ?? 1)).toBeLessThan(0.1);
    for (let i = 1; i < splits.length; i++) {
      // The trend, not exact numbers: each step up in tax moves at least 1 MiB to the active VM.
      expect(splits[i]?.active ?? 0).toBeGreaterThan((splits[i - 1]?.active ?? 0) + 1);
      expect(splits[i]?.idle ?? 0).toBeLessThan((splits[i - 1]?.idle ?? 0) - 1);
    }
  });

  it("every second: a VM never falls below its reservation once it held it, and never exceeds its limit", () => {
    // Three 64 MiB VMs on a 64 MiB host: "limited" (limit 24 MiB) wants 40; "reserved" (reservation
    // 24 MiB) grows to 30 MiB and goes idle, so the tax makes it the first to reclaim from; "hog"
    // grows to 56 MiB. Sharing lowers a VM's consumption without taking memory from it (two of its
    // pages merge into one frame), so the reservation is checked two ways: with sharing slowed to
    // nothing (a scan every 10^6 minutes) consumption never falls below it at all; with sharing on,
    // no second in which the host ballooned, compressed or swapped the VM ends below it. Sharing also
    // makes consumption fractional (a VM pays its part of each shared frame), which is where
    // rounding goes wrong if anywhere.
    // (Before the fix in Host.reclaim, the 60-minute run ended second 19 at 6144.6 pages, 0.6 above
    // the limit: one page compressed into a fresh cache frame had freed nothing; and swapping took
    // ceil() of a fractional excess, 1-4 times per run ending up to 0.65 pages below the reservation.)
    const configs = [
      { shareScanTimeMin: 1e6, compressiblePct: 100 },
      { shareScanTimeMin: 60, compressiblePct: 100 },
      { shareScanTimeMin: 1, compressiblePct: 50 },
    ];
    for (const { shareScanTimeMin, compressiblePct } of configs) {
      const sharing = shareScanTimeMin < 1e6;
      const content = { compressiblePct };
      const scenario: ScenarioInput = {
        seed: 3,
        durationSec: 200,
        host: { memoryMiB: 64, idleTax: 0.75, settings: { shareScanTimeMin } },
        vms: [
          { name: "limited", memoryMiB: 64, limitMiB: 24, content },
          { name: "reserved", memoryMiB: 64, reservationMiB: 24, content },
          { name: "hog", memoryMiB: 64, content },
        ],
        timeline: [
          { atSec: 0, vm: "limited", action: "boot", MiB: 8 },
          { atSec: 2, vm: "limited", action: "grow", toMiB: 40, rateMiBPerSec: 4 },
          { atSec: 0, vm: "reserved", action: "boot", MiB: 8 },
          { atSec: 2, vm: "reserved", action: "grow", toMiB: 30, rateMiBPerSec: 4 },
          { atSec: 20, vm: "reserved", action: "idle", workingSetMiB: 1 },
          { atSec: 30, vm: "hog", action: "boot", MiB: 8 },
          { atSec: 32, vm: "hog", action: "grow", toMiB: 56, rateMiBPerSec: 2 },
        ],
      };
      withHost(scenario, (host) => {
        const limit = 24 * MIB_PAGES;
        const reservation = 24 * MIB_PAGES;
        let held = false;
        let maxLimited = 0;
        let minReserved = Number.POSITIVE_INFINITY;
        let reclaimedSeconds = 0;
        const violations: string[] = [];
        runTicks(host, scenario.durationSec, (previous, current) => {
          const limited = current.vms[0]?.consumedPages ?? 0;
          const before = previous.vms[1];
          const after = current.vms[1];
          if (!before || !after) return;
          maxLimited = Math.max(maxLimited, limited);
          if (limited > limit) violations.push(`${current.nowSec}s: limited consumes ${limited.toFixed(2)} pages > limit ${limit}`);
          if (after.consumedPages >= reservation) held = true;
          if (!held) return;
          minReserved = Math.min(minReserved, after.consumedPages);
          const reclaimed = after.balloonPages > before.balloonPages || after.swapOuts > before.swapOuts || after.compressions > before.compressions;
          if (reclaimed) reclaimedSeconds++;
          if (after.consumedPages < reservation && (!sharing || reclaimed)) {
            violations.push(`${current.nowSec}s (${current.state}): reserved consumes ${after.consumedPages.toFixed(2)} pages < reservation ${reservation}${reclaimed ? " after reclamation" : ""}`);
          }
        });
        const summary = host.vmNames.map((_, vm) => host.vmSummary(vm));
        console.log(
          `reservation/limit run, Mem.ShareScanTime ${shareScanTimeMin} min, ${compressiblePct}% compressible: limited max ${(maxLimited / MIB_PAGES).toFixed(3)} MiB (limit 24), ` +
            `reserved min ${(minReserved / MIB_PAGES).toFixed(3)} MiB after holding 24, reclaimed from in ${reclaimedSeconds} s; states ${JSON.stringify(host.stateSeconds)}; ` +
            `balloons ${summary.map((s) => `${s.name} ${s.balloonMiB.toFixed(1)}`).join(", ")} MiB; saved by sharing ${(host.machine.hostCounters().savedPages / MIB_PAGES).toFixed(1)} MiB`,
        );
        // Not vacuous: the reserved VM held its reservation, the host reclaimed from it, and it was short of memory.
        expect(held).toBe(true);
        expect(reclaimedSeconds).toBeGreaterThan(0);
        expect(host.stateSeconds.hard + host.stateSeconds.low).toBeGreaterThan(0);
        expect(violations.slice(0, 5), `Mem.ShareScanTime ${shareScanTimeMin} min, ${compressiblePct}% compressible`).toEqual([]);
      });
    }
  });
});
