// Fingerprint mode: frames hold 64-bit content seeds instead of bytes. The same seeded scenario or
// trace gives the same counters and metrics as byte mode; pages still read back as their content;
// raw-byte writes are refused with a clear error.
import { describe, expect, it } from "vitest";
import { Machine } from "../src/core/machine.ts";
import { parseScenario, type ScenarioInput } from "../src/sim/scenario.ts";
import { runScenario } from "../src/sim/run.ts";
import { SEEDS_STORY } from "../src/sim/seeds-story.ts";
import { scaleScenario } from "../src/sim/scale.ts";
import { generateTrace } from "../src/trace/generate.ts";
import { replayTrace } from "../src/trace/replay.ts";
import { contentOfSeed } from "./oracles/content-seed.ts";

function withContent(input: ScenarioInput, content: "bytes" | "fingerprints") {
  return parseScenario({ ...input, host: { ...input.host, content } });
}

describe("fingerprint mode", () => {
  it("runs the seeds' story with the same counters, events and metrics as byte mode", () => {
    const results = (["bytes", "fingerprints"] as const).map((content) => {
      const scenario = scaleScenario(withContent({ ...SEEDS_STORY, durationSec: 400 }, content), 1 / 32);
      const { wallSeconds, ...rest } = runScenario(scenario);
      void wallSeconds;
      return rest;
    });
    expect(results[1]).toEqual(results[0]);
    const vm1 = results[0]?.vms[0];
    expect((vm1?.balloonMiB ?? 0) + (vm1?.swappedMiB ?? 0) + (vm1?.compressedMiB ?? 0)).toBeGreaterThan(0); // reclaim happened
  }, 120_000);

  it("replays a trace with compression, swap and sharing to the same counters", async () => {
    const run = async (content: "bytes" | "fingerprints") => {
      const trace = generateTrace({ vms: 3, vmMiB: 8, events: 80_000, durationSec: 200, seed: 9n, workload: "boot", writePct: 30 });
      const { host } = await replayTrace(trace, {
        scenario: parseScenario({ durationSec: 1, host: { memoryMiB: 9, content, settings: { shareScanTimeMin: 1 } }, vms: [{ name: "vm1", memoryMiB: 8 }] }),
        trackContent: true,
      });
      const counters = { host: host.machine.hostCounters(), vms: [0, 1, 2].map((vm) => host.machine.vmCounters(vm)), metrics: host.metrics };
      host.machine.audit();
      // Every page reads back as its content, also when only a fingerprint is kept.
      for (let vm = 0; vm < 3; vm++) {
        for (let gpn = 0; gpn < host.machine.vmPages(vm); gpn += 7) {
          const seed = host.expectedSeed(vm, gpn);
          if (seed !== undefined) expect(Buffer.compare(host.machine.readPage(vm, gpn), contentOfSeed(seed))).toBe(0);
        }
      }
      host.dispose();
      return counters;
    };
    const bytes = await run("bytes");
    const fingerprints = await run("fingerprints");
    expect(bytes.host.savedPages).toBeGreaterThan(0);
    expect(bytes.vms.some((c) => c.compressions > 0)).toBe(true);
    expect(bytes.vms.some((c) => c.swapOuts > 0)).toBe(true);
    expect(fingerprints).toEqual(bytes);
  }, 120_000);

  it("refuses raw bytes with a message that says what to do", () => {
    const machine = Machine.create({ memoryMiB: 4, content: "fingerprints" });
    try {
      const vm = machine.addVm({ pages: 16 });
      machine.writeSeed(vm, 0, 42n);
      expect(Buffer.compare(machine.readPage(vm, 0), contentOfSeed(42n))).toBe(0);
      expect(() => machine.writePage(vm, 1, new Uint8Array(4096))).toThrow(/holds content fingerprints, not bytes.*writeSeed/);
      expect(() => machine.writeBytes(vm, 1, 0, new Uint8Array(3))).toThrow(expect.objectContaining({ code: "NEEDS_BYTES" }));
      expect(() => machine.loadPages(vm, 0, new Uint8Array(4096))).toThrow(/NEEDS_BYTES|not bytes/);
    } finally {
      machine.dispose();
    }
  });

  it("holds a 256 GiB host in the 4 GiB WASM memory", () => {
    const machine = Machine.create({ memoryMiB: 256 * 1024, content: "fingerprints", maxVms: 64 });
    try {
      expect(machine.frames).toBe(64 * 1024 * 1024);
      const vm = machine.addVm({ memoryMiB: 4096 });
      machine.writeSeed(vm, 123_456, 7n);
      machine.writeSeed(vm, 654_321, 7n);
      machine.scanVmOrder(vm, 1n, 0, machine.vmPages(vm));
      expect(machine.hostCounters().savedPages).toBe(1);
      machine.audit();
    } finally {
      machine.dispose();
    }
  }, 120_000);
});
