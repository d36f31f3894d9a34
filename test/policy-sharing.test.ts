// Transparent page sharing across VMs booted from the same content (content.osSeed), through the
// Host: VMs of one OS boot the same OS pages, and the savings (hostCounters().savedPages) grow with
// the number of such VMs (1, 2, 4), each time exactly the resident pages minus their distinct
// contents, counted independently from the guest model's content seeds (host.expectedSeed). VMs of
// different OSes share only their zero pages. The scheduled scanner (src/policy/share-scanner.ts)
// reaches the same savings over simulated time at Mem.ShareScanTime's pace, within its per-VM and
// host-wide caps.
import { describe, expect, it } from "vitest";
import { ShareScanner } from "../src/policy/share-scanner.ts";
import { DEFAULT_HOST_SETTINGS } from "../src/policy/settings.ts";
import type { Host } from "../src/sim/host.ts";
import type { ScenarioInput } from "../src/sim/scenario.ts";
import { MIB_PAGES, withHost } from "./helpers/scenarios.ts";

const OS_MIB = 12;

/** `n` 16 MiB VMs that each boot 12 MiB of OS pages and only read them afterwards (writePct 0). */
function bootScenario(n: number, options: { sameOs: boolean; shareScanTimeMin?: number }): ScenarioInput {
  return {
    name: `${n} VMs`,
    seed: 9,
    durationSec: 200,
    host: { memoryMiB: 128, settings: { shareScanTimeMin: options.shareScanTimeMin ?? 60 } },
    vms: Array.from({ length: n }, (_, i) => ({
      name: `vm${i}`,
      memoryMiB: 16,
      writePct: 0,
      content: { osSeed: options.sameOs ? 42 : i + 1, osZeroPct: 10 },
    })),
    timeline: Array.from({ length: n }, (_, i) => ({ atSec: 0, vm: `vm${i}`, action: "boot" as const, MiB: OS_MIB })),
  };
}

/** Resident guest pages and their distinct contents, from the guest model (not from the core). */
function contentCensus(host: Host): { resident: number; distinct: number; zero: number } {
  const seeds = new Set<bigint>();
  let resident = 0;
  let zero = 0;
  host.vmNames.forEach((_, vm) => {
    for (let gpn = 0; gpn < host.machine.vmPages(vm); gpn++) {
      const seed = host.expectedSeed(vm, gpn);
      if (seed === undefined) continue;
      resident++;
      if (seed === 0n) zero++;
      seeds.add(seed);
    }
  });
  return { resident, distinct: seeds.size, zero };
}

describe("sharing across VMs of one OS", () => {
  it("savings grow with the number of VMs booted from the same content: 1, 2, 4", () => {
    const rows = [1, 2, 4].map((n) =>
      withHost(bootScenario(n, { sameOs: true }), (host) => {
        for (let i = 0; i < 3; i++) host.step();
        const census = contentCensus(host);
        host.machine.scanToConvergence({ seed: 5n });
        host.machine.audit();
        return { n, saved: host.machine.hostCounters().savedPages, ...census };
      }),
    );
    console.log(`sharing, same OS: ${rows.map((r) => `${r.n} VM${r.n > 1 ? "s" : ""} save ${r.saved} pages (${(r.saved / MIB_PAGES).toFixed(1)} MiB of ${(r.resident / MIB_PAGES).toFixed(0)})`).join("; ")}`);
    for (const row of rows) {
      expect(row.resident).toBe(row.n * OS_MIB * MIB_PAGES);
      // Every duplicate shared: what is saved is what is resident minus one frame per distinct content.
      expect(row.saved).toBe(row.resident - row.distinct);
    }
    const [one, two, four] = rows as [typeof rows[number], typeof rows[number], typeof rows[number]];
    // One VM saves only its duplicate (mostly zero) pages; each more VM of the same OS saves about its whole OS.
    expect(one.saved).toBeLessThan(0.15 * one.resident);
    expect(two.saved).toBeGreaterThan(one.saved + 0.95 * OS_MIB * MIB_PAGES);
    expect(four.saved).toBeGreaterThan(two.saved + 2 * 0.95 * OS_MIB * MIB_PAGES);
  });

  it("VMs of different OSes share only zero pages", () => {
    withHost(bootScenario(4, { sameOs: false }), (host) => {
      for (let i = 0; i < 3; i++) host.step();
      const census = contentCensus(host);
      host.machine.scanToConvergence({ seed: 5n });
      const saved = host.machine.hostCounters().savedPages;
      console.log(`sharing, 4 different OSes: ${saved} pages saved of ${census.resident}, ${census.zero} of them zero pages`);
      expect(saved).toBe(census.resident - census.distinct);
      // All zero pages but one merge; of the rest, nearly nothing.
      expect(saved).toBeGreaterThanOrEqual(census.zero - 1);
      expect(saved - (census.zero - 1)).toBeLessThan(0.01 * census.resident);
    });
  });
});

describe("the scheduled scanner", () => {
  it("reaches the converged savings at Mem.ShareScanTime's pace", () => {
    const converged = withHost(bootScenario(2, { sameOs: true }), (host) => {
      for (let i = 0; i < 3; i++) host.step();
      host.machine.scanToConvergence({ seed: 5n });
      return host.machine.hostCounters().savedPages;
    });
    const after = (shareScanTimeMin: number, seconds: number): number =>
      withHost(bootScenario(2, { sameOs: true, shareScanTimeMin }), (host) => {
        for (let i = 0; i < seconds; i++) host.step();
        return host.machine.hostCounters().savedPages;
      });
    // A 16 MiB VM rescanned once a minute: 68 pages/s; two passes (hint, then merge) by 120 s.
    const fast = after(1, 150);
    // At ESX's default (once an hour) 150 s cover about 4% of each VM.
    const slow = after(60, 150);
    console.log(`scheduled scan, 2 VMs: ${fast} pages saved after 150 s at 1 min, ${slow} at 60 min; converged ${converged}`);
    expect(fast).toBe(converged);
    expect(slow).toBeGreaterThan(0);
    expect(slow).toBeLessThan(0.1 * converged);
  });

  it("scans each VM at pages / Mem.ShareScanTime, capped by Mem.ShareRateMax and by Mem.ShareScanGHz for the host", () => {
    withHost(bootScenario(2, { sameOs: true }), (host) => {
      const vmPages = host.machine.vmPages(0); // 4096
      const settings = { ...DEFAULT_HOST_SETTINGS, shareScanTimeMin: 1 };
      const rates = (overrides: Partial<typeof settings>): number[] => new ShareScanner(host.machine, { ...settings, ...overrides }, 1n).ratesPagesPerSec();
      expect(rates({})).toEqual([vmPages / 60, vmPages / 60]);
      expect(rates({ shareRateMax: 50 })).toEqual([50, 50]);
      // Host cap: 0.01 GHz-of-scan per GHz x 8 GHz x 256 pages per MiB = 20.48 pages/s over both VMs.
      const capped = rates({ shareScanGHz: 0.01, hostCpuGHz: 8 });
      expect(capped[0]).toBeCloseTo(10.24, 9);
      expect(capped[1]).toBeCloseTo(10.24, 9);
    });
  });
});
