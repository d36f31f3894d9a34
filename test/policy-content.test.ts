// What the policies do to page content, through the Host.
//
// Nothing is lost: a scenario in which the host balloons, compresses and swaps, the guest pages to
// its own swap device under balloon pressure, pages are shared and written (COW breaks), and pages
// come back from the cache and the swap file. Midway and at the end, every guest page that holds
// application data (per the guest model: host.expectedSeed) reads back (machine.readPage, wherever
// the page lives) exactly as the independent oracle says its content seed must
// (test/oracles/content-seed.ts); the core's audit passes every ten seconds; and the core's and the
// guest model's books agree (ballooned pages, swap slots). Pages the guest holds free or in the
// balloon may read anything and are not checked.
//
// Double paging: two scenarios that differ only in whether the VMs have a balloon driver. Without
// one the host swaps, and the guest (short of memory on its own: its applications want more than
// its configured memory) later pages out pages the host had swapped or compressed: each is read
// back from the host first, counted in guest.counters.doublePaging. With the balloon the host never
// needs to swap, and the guest chooses what to page out: no double paging.
import { describe, expect, it } from "vitest";
import type { Host } from "../src/sim/host.ts";
import type { ScenarioInput } from "../src/sim/scenario.ts";
import { contentOfSeed } from "./oracles/content-seed.ts";
import { MIB_PAGES, runTicks, withHost } from "./helpers/scenarios.ts";

/** Checks every application page of every VM against the oracle; returns pages checked and a few mismatches. */
function verifyContent(host: Host, oracleCache: Map<bigint, Uint8Array>): { checked: number; mismatches: string[] } {
  let checked = 0;
  const mismatches: string[] = [];
  host.vmNames.forEach((name, vm) => {
    for (let gpn = 0; gpn < host.machine.vmPages(vm); gpn++) {
      const seed = host.expectedSeed(vm, gpn);
      if (seed === undefined) continue;
      let expected = oracleCache.get(seed);
      if (!expected) {
        expected = contentOfSeed(seed);
        oracleCache.set(seed, expected);
      }
      const actual = host.machine.readPage(vm, gpn);
      checked++;
      if (Buffer.compare(actual, expected) !== 0 && mismatches.length < 5) {
        mismatches.push(`${name} GPN ${gpn} (${host.machine.pageInfo(vm, gpn).state}) does not read as seed 0x${seed.toString(16)}`);
      }
    }
  });
  return { checked, mismatches };
}

describe("nothing is lost", () => {
  it("after ballooning, compression, host swap and guest paging, every guest page reads as the guest model says", () => {
    // A 32 MiB host, two 32 MiB VMs: A grows to 20 MiB and frees 12 inside the guest; B boots and
    // grows to 24 MiB faster than a slow balloon and a slow swap reclaim. 80% of pages compress.
    const content = { compressiblePct: 80 };
    const scenario: ScenarioInput = {
      name: "everything at once",
      seed: 17,
      durationSec: 200,
      host: { memoryMiB: 32, idleTax: 0.75, settings: { balloonRateMiBPerSec: 0.125, swapRateMiBPerSec: 0.25, shareScanTimeMin: 2 } },
      vms: [
        { name: "A", memoryMiB: 32, content },
        { name: "B", memoryMiB: 32, content },
      ],
      timeline: [
        { atSec: 0, vm: "A", action: "boot", MiB: 8 },
        { atSec: 5, vm: "A", action: "grow", toMiB: 20, rateMiBPerSec: 2 },
        { atSec: 30, vm: "A", action: "free", MiB: 12 },
        { atSec: 30, vm: "A", action: "active", workingSetMiB: 8 },
        { atSec: 40, vm: "B", action: "boot", MiB: 8, rateMiBPerSec: 2 },
        { atSec: 50, vm: "B", action: "grow", toMiB: 24, rateMiBPerSec: 1 },
      ],
    };
    withHost(scenario, (host) => {
      const oracle = new Map<bigint, Uint8Array>();
      const audit = (_previous: unknown, current: { nowSec: number }): void => {
        if (current.nowSec % 10 === 0) host.machine.audit();
      };
      runTicks(host, 120, audit);
      const midway = verifyContent(host, oracle);
      expect(midway.mismatches, "at 120 s").toEqual([]);
      runTicks(host, scenario.durationSec - 120, audit);
      const atEnd = verifyContent(host, oracle);
      expect(atEnd.mismatches, "at the end").toEqual([]);
      host.machine.audit();

      // The books agree, and every mechanism really was at work (the check is not vacuous).
      const totals = { shared: 0, compressed: 0, swapped: 0, ballooned: 0, guestSwapped: 0, pageOuts: 0, doublePaging: 0, swapIns: 0, decompressions: 0, cowBreaks: 0 };
      host.vmNames.forEach((_, vm) => {
        const c = host.machine.vmCounters(vm);
        const guest = host.guest(vm);
        expect(c.balloonedPages).toBe(guest.balloonPages);
        expect(host.machine.swapSlotsUsed(vm)).toBe(c.swappedPages);
        totals.shared += c.sharedPages;
        totals.compressed += c.compressedPages;
        totals.swapped += c.swappedPages;
        totals.ballooned += c.balloonedPages;
        totals.guestSwapped += guest.swappedPages;
        totals.pageOuts += guest.counters.pageOuts;
        totals.doublePaging += guest.counters.doublePaging;
        totals.swapIns += c.swapIns;
        totals.decompressions += c.decompressions;
        totals.cowBreaks += c.cowBreaks;
      });
      console.log(
        `nothing is lost: ${midway.checked} pages checked at 120 s and ${atEnd.checked} at ${host.nowSec} s (${oracle.size} distinct contents); ` +
          `states ${JSON.stringify(host.stateSeconds)}; at the end ${JSON.stringify(totals)}`,
      );
      expect(atEnd.checked).toBeGreaterThan(16 * MIB_PAGES);
      for (const [what, count] of Object.entries(totals)) expect(count, what).toBeGreaterThan(0);
    });
  });
});

describe("double paging", () => {
  /**
   * A 40 MiB host. "pressed" (24 MiB) runs applications that want 30 MiB, so its guest pages on its
   * own; "steady" (28 MiB, all of it reserved, no balloon driver in either scenario) grows to 24 MiB
   * and forces the host to take memory from "pressed": by balloon if it has a driver, else by
   * compression and swap.
   */
  const scenario = (balloonDriver: boolean): ScenarioInput => ({
    name: balloonDriver ? "with balloon" : "without balloon",
    seed: 13,
    durationSec: 120,
    host: { memoryMiB: 40 },
    vms: [
      { name: "pressed", memoryMiB: 24, balloonDriver },
      { name: "steady", memoryMiB: 28, reservationMiB: 28, balloonDriver: false },
    ],
    timeline: [
      { atSec: 0, vm: "pressed", action: "boot", MiB: 8 },
      { atSec: 1, vm: "pressed", action: "grow", toMiB: 30, rateMiBPerSec: 2 },
      { atSec: 20, vm: "steady", action: "boot", MiB: 4 },
      { atSec: 21, vm: "steady", action: "grow", toMiB: 24, rateMiBPerSec: 1 },
    ],
  });

  it("host swapping without a balloon causes it; ballooning does not", () => {
    const outcomes = [false, true].map((balloonDriver) =>
      withHost(scenario(balloonDriver), (host) => {
        runTicks(host, host.scenario.durationSec);
        const c = host.machine.vmCounters(0);
        const guest = host.guest(0);
        return {
          balloonDriver,
          doublePaging: guest.counters.doublePaging,
          guestPageOuts: guest.counters.pageOuts,
          hostReclaimed: c.swapOuts + c.compressions,
          balloonMiB: guest.balloonPages / MIB_PAGES,
          states: { ...host.stateSeconds },
        };
      }),
    );
    const [without, withBalloon] = outcomes as [typeof outcomes[number], typeof outcomes[number]];
    console.log(`double paging: ${outcomes.map((o) => `${o.balloonDriver ? "with" : "without"} balloon: ${o.doublePaging} of ${o.guestPageOuts} guest page-outs, host swap-outs + compressions ${o.hostReclaimed}, balloon ${o.balloonMiB.toFixed(1)} MiB, states ${JSON.stringify(o.states)}`).join("; ")}`);
    expect(without.hostReclaimed).toBeGreaterThan(0);
    expect(without.guestPageOuts).toBeGreaterThan(0);
    expect(without.doublePaging).toBeGreaterThan(0);
    // With the balloon the guest pages out plenty, but never a page the host had taken.
    expect(withBalloon.balloonMiB).toBeGreaterThan(4);
    expect(withBalloon.guestPageOuts).toBeGreaterThan(without.guestPageOuts);
    expect(withBalloon.hostReclaimed).toBe(0);
    expect(withBalloon.doublePaging).toBe(0);
  });
});
