// Ballooning (src/policy/balloon.ts with the guest OS model of src/policy/guest-os.ts), in runs
// checked every simulated second:
//   - the balloon takes the guest's free pages before it makes the guest page out: in no second
//     does the guest page out more than the balloon's growth (plus its own allocations and
//     page-ins) exceeded the free pages it had; in the seeds' story VM1, which freed 2 GiB inside
//     the guest, is ballooned without a single guest page-out; a guest with no free pages pages out
//     only once its free list is gone;
//   - a balloon never holds more than Mem.CtlMaxPercent of its VM's memory (65% by default, and a
//     configured 30%), and does reach that cap when the host wants more;
//   - a VM without a balloon driver is never ballooned; the host swaps (and compresses) it instead,
//     in hard and low only.
import { describe, expect, it } from "vitest";
import { swappingAllowed } from "../src/policy/memory-state.ts";
import type { ScenarioInput } from "../src/sim/scenario.ts";
import { MIB_PAGES, runTicks, storyScenario, withHost, type Tick, type VmTick } from "./helpers/scenarios.ts";

/** Guest page-outs a second may have: what the balloon, allocations and page-ins took beyond the free pages. */
function pageOutAllowance(before: VmTick, after: VmTick): number {
  const balloon = Math.max(0, after.balloonPages - before.balloonPages);
  const allocated = Math.max(0, after.guestAllocatedPages - before.guestAllocatedPages);
  const pageIns = after.guestPageIns - before.guestPageIns;
  return Math.max(0, balloon + allocated + pageIns - before.guestFreePages);
}

function checkFreePagesFirst(names: readonly string[], violations: string[]): (previous: Tick, current: Tick) => void {
  return (previous, current) => {
    current.vms.forEach((after, vm) => {
      const before = previous.vms[vm];
      if (!before) return;
      const pageOuts = after.guestPageOuts - before.guestPageOuts;
      const allowance = pageOutAllowance(before, after);
      if (pageOuts > allowance) {
        violations.push(`${current.nowSec}s: ${names[vm]} paged out ${pageOuts} pages with ${before.guestFreePages} free (balloon +${after.balloonPages - before.balloonPages})`);
      }
    });
  };
}

describe("the balloon takes free guest pages first", () => {
  it("the seeds' story (1/32, tax 0.75): VM1 gives its freed pages and never pages out", () => {
    withHost(storyScenario({ scale: 1 / 32, idleTax: 0.75 }), (host) => {
      const violations: string[] = [];
      const check = checkFreePagesFirst(host.vmNames, violations);
      let vm1MinFreeWhileInflating = Number.POSITIVE_INFINITY;
      let vm1InflatingSeconds = 0;
      const ticks = runTicks(host, host.scenario.durationSec, (previous, current) => {
        check(previous, current);
        const before = previous.vms[0];
        const after = current.vms[0];
        if (before && after && after.balloonPages > before.balloonPages) {
          vm1InflatingSeconds++;
          vm1MinFreeWhileInflating = Math.min(vm1MinFreeWhileInflating, after.guestFreePages);
        }
      });
      const last = ticks[ticks.length - 1];
      const vm1 = last?.vms[0];
      const vm2 = last?.vms[1];
      console.log(
        `story 1/32: VM1 balloon ${((vm1?.balloonPages ?? 0) / MIB_PAGES).toFixed(1)} MiB over ${vm1InflatingSeconds} s of inflation, ` +
          `guest page-outs ${vm1?.guestPageOuts}, free pages never below ${(vm1MinFreeWhileInflating / MIB_PAGES).toFixed(1)} MiB while inflating; ` +
          `VM2 balloon ${((vm2?.balloonPages ?? 0) / MIB_PAGES).toFixed(1)} MiB, guest page-outs ${vm2?.guestPageOuts}`,
      );
      expect(violations.slice(0, 5)).toEqual([]);
      // VM1 was ballooned (not vacuous) and gave only free pages.
      expect(vm1?.balloonPages ?? 0).toBeGreaterThan(16 * MIB_PAGES);
      expect(vm1InflatingSeconds).toBeGreaterThan(10);
      expect(vm1MinFreeWhileInflating).toBeGreaterThan(0);
      expect(vm1?.guestPageOuts).toBe(0);
    });
  });

  it("a guest with almost no free pages pages out only once its free list is empty", () => {
    // "full" allocates 60 of its 64 MiB and goes idle (4 MiB working set); "other" grows to 48 MiB
    // on a 64 MiB host, so the host balloons "full", which has only 4 MiB free.
    const scenario: ScenarioInput = {
      seed: 11,
      durationSec: 150,
      host: { memoryMiB: 64, idleTax: 0.75 },
      vms: [
        { name: "full", memoryMiB: 64 },
        { name: "other", memoryMiB: 64 },
      ],
      timeline: [
        { atSec: 0, vm: "full", action: "boot", MiB: 8 },
        { atSec: 1, vm: "full", action: "grow", toMiB: 60, rateMiBPerSec: 8 },
        { atSec: 10, vm: "full", action: "idle", workingSetMiB: 4 },
        { atSec: 12, vm: "other", action: "boot", MiB: 8 },
        { atSec: 13, vm: "other", action: "grow", toMiB: 48, rateMiBPerSec: 2 },
      ],
    };
    withHost(scenario, (host) => {
      const violations: string[] = [];
      const check = checkFreePagesFirst(host.vmNames, violations);
      let firstPageOut: { sec: number; freeBefore: number; balloon: number } | undefined;
      let freeAtFirstInflation: number | undefined;
      runTicks(host, scenario.durationSec, (previous, current) => {
        check(previous, current);
        const before = previous.vms[0];
        const after = current.vms[0];
        if (!before || !after) return;
        if (freeAtFirstInflation === undefined && after.balloonPages > before.balloonPages) freeAtFirstInflation = before.guestFreePages;
        if (!firstPageOut && after.guestPageOuts > before.guestPageOuts) {
          firstPageOut = { sec: current.nowSec, freeBefore: before.guestFreePages, balloon: after.balloonPages };
        }
      });
      const full = host.vmSummary(0);
      console.log(
        `full guest: ${((freeAtFirstInflation ?? 0) / MIB_PAGES).toFixed(1)} MiB free when the balloon started; first page-out at ${firstPageOut?.sec}s ` +
          `with the balloon at ${((firstPageOut?.balloon ?? 0) / MIB_PAGES).toFixed(1)} MiB; at the end balloon ${full.balloonMiB.toFixed(1)} MiB, guest page-outs ${full.guestPageOuts}`,
      );
      expect(violations.slice(0, 5)).toEqual([]);
      expect(freeAtFirstInflation).toBeGreaterThan(0);
      expect(firstPageOut).toBeDefined();
      // By the first page-out the balloon had already taken every page that was free.
      expect(firstPageOut?.balloon ?? 0).toBeGreaterThanOrEqual(freeAtFirstInflation ?? Number.POSITIVE_INFINITY);
      expect(full.guestPageOuts).toBeGreaterThan(0);
    });
  });
});

/**
 * A 64 MiB host with three 64 MiB VMs that want 24 + 30 + 56 MiB: the host wants far more from
 * each balloon than Mem.CtlMaxPercent lets it take.
 */
function squeezeScenario(ctlMaxPercent?: number): ScenarioInput {
  return {
    seed: 3,
    durationSec: 150,
    host: { memoryMiB: 64, idleTax: 0.75, settings: ctlMaxPercent !== undefined ? { ctlMaxPercent } : {} },
    vms: [
      { name: "limited", memoryMiB: 64, limitMiB: 24 },
      { name: "idler", memoryMiB: 64 },
      { name: "hog", memoryMiB: 64 },
    ],
    timeline: [
      { atSec: 0, vm: "limited", action: "boot", MiB: 8 },
      { atSec: 2, vm: "limited", action: "grow", toMiB: 40, rateMiBPerSec: 4 },
      { atSec: 0, vm: "idler", action: "boot", MiB: 8 },
      { atSec: 2, vm: "idler", action: "grow", toMiB: 30, rateMiBPerSec: 4 },
      { atSec: 20, vm: "idler", action: "idle", workingSetMiB: 1 },
      { atSec: 30, vm: "hog", action: "boot", MiB: 8 },
      { atSec: 32, vm: "hog", action: "grow", toMiB: 56, rateMiBPerSec: 2 },
    ],
  };
}

describe("Mem.CtlMaxPercent", () => {
  for (const percent of [undefined, 30] as const) {
    it(`a balloon never exceeds ${percent ?? 65}% of its VM's memory, and reaches it under pressure`, () => {
      withHost(squeezeScenario(percent), (host) => {
        const caps = host.vmNames.map((_, vm) => Math.floor((host.machine.vmPages(vm) * (percent ?? 65)) / 100));
        const largest = host.vmNames.map(() => 0);
        const violations: string[] = [];
        runTicks(host, host.scenario.durationSec, (_previous, current) => {
          current.vms.forEach((vm, i) => {
            largest[i] = Math.max(largest[i] ?? 0, vm.balloonPages);
            if (vm.balloonPages > (caps[i] ?? 0)) violations.push(`${current.nowSec}s: ${host.vmNames[i]} balloon ${vm.balloonPages} > ${caps[i]} pages`);
          });
        });
        console.log(`CtlMaxPercent ${percent ?? 65}: largest balloons ${largest.map((p, i) => `${host.vmNames[i]} ${(p / MIB_PAGES).toFixed(2)} MiB`).join(", ")} (cap ${((caps[0] ?? 0) / MIB_PAGES).toFixed(2)} MiB)`);
        expect(violations.slice(0, 5)).toEqual([]);
        expect(Math.max(...largest)).toBe(caps[0]);
      });
    });
  }
});

describe("a VM without a balloon driver", () => {
  it("is never ballooned; the host swaps it instead, in hard and low only", () => {
    // The idle VM, the one the tax picks, has no balloon driver.
    const scenario: ScenarioInput = {
      seed: 5,
      durationSec: 300,
      host: { memoryMiB: 64, idleTax: 0.75, settings: { samplePeriodSec: 30 } },
      vms: [
        { name: "idle", memoryMiB: 64, balloonDriver: false },
        { name: "active", memoryMiB: 64 },
      ],
      timeline: [
        { atSec: 0, vm: "idle", action: "boot", MiB: 8 },
        { atSec: 2, vm: "idle", action: "grow", toMiB: 40, rateMiBPerSec: 4 },
        { atSec: 15, vm: "idle", action: "idle", workingSetMiB: 4 },
        { atSec: 0, vm: "active", action: "boot", MiB: 8 },
        { atSec: 2, vm: "active", action: "grow", toMiB: 48, rateMiBPerSec: 1 },
      ],
    };
    withHost(scenario, (host) => {
      const violations: string[] = [];
      const ticks = runTicks(host, scenario.durationSec, (previous, current) => {
        const before = previous.vms[0];
        const after = current.vms[0];
        if (!before || !after) return;
        if (after.balloonPages !== 0) violations.push(`${current.nowSec}s: idle has a balloon of ${after.balloonPages} pages`);
        if ((after.swapOuts > before.swapOuts || after.compressions > before.compressions) && !swappingAllowed(current.state)) {
          violations.push(`${current.nowSec}s: idle swapped or compressed in ${current.state}`);
        }
      });
      const idle = ticks[ticks.length - 1]?.vms[0];
      const counters = host.machine.vmCounters(0);
      console.log(
        `no balloon driver: balloon inflates ${counters.balloonInflates}, swap-outs ${counters.swapOuts}, compressions ${counters.compressions}, ` +
          `now ${(counters.swappedPages / MIB_PAGES).toFixed(1)} MiB swapped + ${(counters.compressedPages / MIB_PAGES).toFixed(1)} MiB compressed; ` +
          `consumed ${((idle?.consumedPages ?? 0) / MIB_PAGES).toFixed(1)} MiB of 40 allocated; states ${JSON.stringify(host.stateSeconds)}`,
      );
      expect(violations.slice(0, 5)).toEqual([]);
      expect(counters.balloonInflates).toBe(0);
      expect(counters.swapOuts).toBeGreaterThan(256);
      // Reclaimed by swap and compression well below what it allocated.
      expect(idle?.consumedPages ?? 0).toBeLessThan(30 * MIB_PAGES);
    });
  });
});
