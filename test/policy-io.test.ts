// I/O page remapping (src/policy/io-remap.ts) through the Host, with low memory (host.lowMemoryMiB)
// that devices reach without a bounce buffer. A hot set of pages (many I/Os, timeline action "io")
// ends in low memory (pageInfo index < machine.lowFrames), its bounce copies stop and the copies
// avoided grow, and its content survives the move; a cold set (fewer I/Os per page than
// settings.ioHotCopies) stays where it is and keeps paying copies. The threshold is exact: a page
// moves on its (ioHotCopies + 1)-th copy. When low memory is full, remapping stops and copies go on.
import { describe, expect, it } from "vitest";
import type { Host } from "../src/sim/host.ts";
import type { ScenarioInput } from "../src/sim/scenario.ts";
import { contentOfSeed } from "./oracles/content-seed.ts";
import { withHost } from "./helpers/scenarios.ts";

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** One 32 MiB VM that boots 16 MiB (GPNs 0..4095) on a 64 MiB host with `lowMiB` of low memory. */
function ioScenario(io: { fromGpn: number; pages: number; ratePerSec: number; durationSec: number }[], lowMiB = 8): ScenarioInput {
  return {
    name: "io",
    seed: 31,
    durationSec: 90,
    // Sharing slowed to nothing: only I/O remapping moves pages here.
    host: { memoryMiB: 64, lowMemoryMiB: lowMiB, settings: { shareScanTimeMin: 1e6 } },
    vms: [{ name: "vm", memoryMiB: 32, writePct: 0 }],
    timeline: [
      { atSec: 0, vm: "vm", action: "boot", MiB: 16 },
      { atSec: 0, vm: "vm", action: "idle", workingSetMiB: 0 },
      ...io.map((set) => ({ atSec: 5, vm: "vm", action: "io" as const, ...set })),
    ],
  };
}

const inLowMemory = (host: Host, gpn: number): boolean => {
  const info = host.machine.pageInfo(0, gpn);
  return info.state === "private" && info.index < host.machine.lowFrames;
};

describe("I/O remapping", () => {
  it("a hot set moves to low memory: its copies stop, the copies avoided grow, its content is intact", () => {
    const hot = { fromGpn: 100, pages: 16, ratePerSec: 200, durationSec: 80 };
    withHost(ioScenario([hot]), (host) => {
      const bounce: number[] = [];
      const avoided: number[] = [];
      for (let t = 0; t < host.scenario.durationSec; t++) {
        host.step();
        bounce.push(host.ioCounters.bounceCopies);
        avoided.push(host.ioCounters.copiesAvoided);
      }
      const io = host.ioCounters;
      const lastCopy = bounce.findIndex((b) => b === bounce[bounce.length - 1]);
      console.log(`hot I/O set: ${io.remaps} pages remapped, ${io.bounceCopies} bounce copies (the last at ${lastCopy} s), ${io.copiesAvoided} copies avoided`);
      const hotGpns = range(hot.fromGpn, hot.pages);
      for (const gpn of hotGpns) expect(inLowMemory(host, gpn), `GPN ${gpn} in low memory`).toBe(true);
      expect(io.remaps).toBe(hot.pages);
      // Each page pays at most ioHotCopies + 1 copies before it moves; then none.
      expect(io.bounceCopies).toBeLessThanOrEqual(hot.pages * (host.settings.ioHotCopies + 1));
      expect(lastCopy).toBeLessThan(15);
      expect((bounce[bounce.length - 1] ?? 0) - (bounce[20] ?? 0)).toBe(0);
      // From then on every I/O on the set is a copy avoided: about 200 per second.
      expect((avoided[80] ?? 0) - (avoided[20] ?? 0)).toBeGreaterThan(0.9 * 200 * 60);
      // The move kept the content (the pages are OS pages of the guest model).
      for (const gpn of hotGpns) {
        const seed = host.expectedSeed(0, gpn);
        expect(seed).toBeDefined();
        expect(Buffer.compare(host.machine.readPage(0, gpn), contentOfSeed(seed ?? 0n)), `GPN ${gpn} content`).toBe(0);
      }
      host.machine.audit();
    });
  });

  it("a cold set (fewer I/Os per page than ioHotCopies) stays put and keeps paying copies", () => {
    // 2 I/Os per second over 64 pages for 80 s: about 2.5 per page, below the threshold of 8.
    const cold = { fromGpn: 1000, pages: 64, ratePerSec: 2, durationSec: 80 };
    withHost(ioScenario([cold]), (host) => {
      host.run(1); // boots
      const before = range(cold.fromGpn, cold.pages).map((gpn) => host.machine.pageInfo(0, gpn).index);
      host.run(host.scenario.durationSec - 1);
      const io = host.ioCounters;
      console.log(`cold I/O set: ${io.remaps} pages remapped, ${io.bounceCopies} bounce copies, ${io.copiesAvoided} copies avoided`);
      expect(io.remaps).toBe(0);
      expect(io.copiesAvoided).toBe(0);
      expect(io.bounceCopies).toBe(cold.ratePerSec * cold.durationSec);
      range(cold.fromGpn, cold.pages).forEach((gpn, i) => {
        expect(inLowMemory(host, gpn)).toBe(false);
        // Not moved at all.
        expect(host.machine.pageInfo(0, gpn).index).toBe(before[i]);
      });
    });
  });

  it("a page moves on exactly its (ioHotCopies + 1)-th copy", () => {
    withHost({ ...ioScenario([]), host: { memoryMiB: 64, lowMemoryMiB: 8, settings: { ioHotCopies: 3, shareScanTimeMin: 1e6 } } }, (host) => {
      host.run(2);
      for (let i = 1; i <= 3; i++) {
        host.issueIo(0, [7]);
        expect(inLowMemory(host, 7), `after ${i} I/Os`).toBe(false);
      }
      host.issueIo(0, [7]);
      expect(inLowMemory(host, 7), "after 4 I/Os").toBe(true);
      host.issueIo(0, [7, 7]);
      expect(host.ioCounters).toEqual({ bounceCopies: 4, remaps: 1, copiesAvoided: 2 });
    });
  });

  it("when low memory is full, remapping stops and the copies go on", () => {
    // 0.25 MiB of low memory is 64 frames; 128 hot pages.
    const hot = { fromGpn: 0, pages: 128, ratePerSec: 1000, durationSec: 60 };
    withHost(ioScenario([hot], 0.25), (host) => {
      host.run(30);
      const atThirty = host.ioCounters.bounceCopies;
      host.run(30);
      const io = host.ioCounters;
      console.log(`I/O set larger than low memory: ${io.remaps} remapped into ${host.machine.lowFrames} low frames, ${io.bounceCopies} bounce copies, ${io.copiesAvoided} avoided`);
      expect(io.remaps).toBe(host.machine.lowFrames);
      expect(host.machine.hostCounters().lowFramesFree).toBe(0);
      expect(range(hot.fromGpn, hot.pages).filter((gpn) => inLowMemory(host, gpn)).length).toBe(host.machine.lowFrames);
      // Half the set still bounces: about 500 copies per second.
      expect(io.bounceCopies - atThirty).toBeGreaterThan(0.4 * 1000 * 30);
    });
  });
});
