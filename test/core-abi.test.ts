// The TypeScript mirror of the core's ABI (src/core/abi.ts) agrees with the core itself, so the two
// cannot drift apart: counter counts from the raw exports, and values the core reports through
// the Machine (page-state tags, status codes, counter order) read back under the mirror's names.
import { describe, expect, it } from "vitest";
import {
  ACCESSED_BIT, HOST_COUNTER_NAMES, HOST_COUNTER_SLOTS, INDEX_MASK, MAX_INDEX, PAGE_BYTES, PAGE_STATE_NAMES,
  PageState, STATUS_NAMES, Status, TAG_SHIFT, VM_COUNTER_NAMES, VM_COUNTER_SLOTS,
} from "../src/core/abi.ts";
import { loadCore } from "../src/core/wasm.ts";
import { Machine } from "../src/core/machine.ts";

/** The counter-count exports, which wasm.ts does not type (they belong to the machine ABI). */
interface CounterExports {
  vmCounterCount(): number;
  hostCounterCount(): number;
}

function isCounterExports(value: unknown): value is CounterExports {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.vmCounterCount === "function" && typeof record.hostCounterCount === "function";
}

describe("counter tables", () => {
  const exports: unknown = loadCore().exports;

  it("the core exports its counter counts", () => {
    expect(isCounterExports(exports)).toBe(true);
  });

  it("VM_COUNTER_NAMES has exactly the core's per-VM counters, within the slots", () => {
    if (!isCounterExports(exports)) throw new Error("no counter exports");
    expect(VM_COUNTER_NAMES.length).toBe(exports.vmCounterCount());
    expect(VM_COUNTER_NAMES.length).toBeLessThanOrEqual(VM_COUNTER_SLOTS);
    expect(new Set(VM_COUNTER_NAMES).size).toBe(VM_COUNTER_NAMES.length);
  });

  it("HOST_COUNTER_NAMES has exactly the core's host counters, within the slots", () => {
    if (!isCounterExports(exports)) throw new Error("no counter exports");
    expect(HOST_COUNTER_NAMES.length).toBe(exports.hostCounterCount());
    expect(HOST_COUNTER_NAMES.length).toBeLessThanOrEqual(HOST_COUNTER_SLOTS);
    expect(new Set(HOST_COUNTER_NAMES).size).toBe(HOST_COUNTER_NAMES.length);
  });

  it("the first six VM counters are the page states, in tag order", () => {
    expect(VM_COUNTER_NAMES.slice(0, PAGE_STATE_NAMES.length)).toEqual(PAGE_STATE_NAMES.map((s) => `${s}Pages`));
    PAGE_STATE_NAMES.forEach((name, tag) => expect(PageState[name]).toBe(tag));
  });
});

describe("constants", () => {
  it("pmap entry fields and the status table are consistent", () => {
    expect(PAGE_BYTES).toBe(4096);
    expect(ACCESSED_BIT).toBe(1 << (TAG_SHIFT - 1));
    expect(INDEX_MASK).toBe(ACCESSED_BIT - 1);
    expect(MAX_INDEX).toBe(INDEX_MASK);
    expect(PAGE_STATE_NAMES.length).toBeLessThanOrEqual(1 << (32 - TAG_SHIFT));
    for (const [name, code] of Object.entries(Status)) expect(STATUS_NAMES[code]).toBe(name);
    expect(STATUS_NAMES.length).toBe(Object.keys(Status).length);
  });
});

describe("the core's counters read back under the mirror's names", () => {
  it("counters land where the names say (each name checked by an operation that moves only it)", () => {
    const machine = Machine.create({ frames: 16, lowFrames: 2 });
    try {
      const vm = machine.addVm({ pages: 8 });
      expect(machine.vmCounters(vm)).toMatchObject({ untouchedPages: 8, privatePages: 0 });
      expect(machine.hostCounters()).toMatchObject({ framesTotal: 16, framesFree: 16, lowFramesTotal: 2, lowFramesFree: 2, vms: 1 });

      machine.touch(vm, [0]);
      expect(machine.vmCounters(vm)).toMatchObject({ untouchedPages: 7, privatePages: 1, firstTouches: 1, guestReads: 1 });
      machine.writeSeeds(vm, [1, 2], [(3n << 62n) | 1n, (3n << 62n) | 1n]);
      expect(machine.vmCounters(vm)).toMatchObject({ privatePages: 3, guestWrites: 2 });
      machine.scanPages(vm, [0, 1, 2]);
      expect(machine.vmCounters(vm)).toMatchObject({ sharedPages: 2, zeroPages: 1, pagesScanned: 3, hashes: 3, scanMerges: 1 });
      expect(machine.hostCounters()).toMatchObject({ sharedFrames: 1, pagesSharing: 2, savedPages: 1, tableEntries: 2, scanMerges: 1, pagesScanned: 3, hashes: 3 });
      machine.touchWrite(vm, [2]);
      expect(machine.vmCounters(vm)).toMatchObject({ cowBreaks: 1, sharedPages: 0 });
      machine.compress(vm, [1]);
      expect(machine.vmCounters(vm)).toMatchObject({ compressedPages: 1, compressions: 1, zipCacheFrames: 1 });
      expect(machine.vmCounters(vm).zipBytes).toBeGreaterThan(0);
      expect(machine.hostCounters().zipCacheFrames).toBe(1);
      machine.touch(vm, [1]);
      expect(machine.vmCounters(vm)).toMatchObject({ decompressions: 1, compressedPages: 0, zipBytes: 0 });
      machine.writeSeed(vm, 3, 1n);
      machine.compress(vm, [3]);
      expect(machine.vmCounters(vm).incompressible).toBe(1);
      machine.swapOut(vm, [3]);
      expect(machine.vmCounters(vm)).toMatchObject({ swappedPages: 1, swapOuts: 1 });
      machine.swapIn(vm, [3]);
      expect(machine.vmCounters(vm)).toMatchObject({ swappedPages: 0, swapIns: 1 });
      machine.inflate(vm, [7]);
      expect(machine.vmCounters(vm)).toMatchObject({ balloonedPages: 1, balloonInflates: 1 });
      machine.deflate(vm, [7]);
      expect(machine.vmCounters(vm)).toMatchObject({ balloonedPages: 0, balloonDeflates: 1 });
      machine.moveToLowMemory(vm, [3]);
      expect(machine.vmCounters(vm).framesMovedLow).toBe(1);
      expect(machine.hostCounters().lowFramesFree).toBe(1);
      machine.audit();
    } finally {
      machine.dispose();
    }
  });
});
