// Targeted examples of the core's mechanisms through the `Machine` API, each checked against numbers
// computed independently of the core (sha256 of the bytes read back, counts by hand):
// copy-on-write breaks, zero pages, savings after a converged scan, forced hash collisions, the
// compression cache (two slots per frame), host swap files, ballooning, low-memory remapping, and a
// machine with no free frame left.
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Machine, Status } from "../src/core/machine.ts";
import { InvalidArgumentError, OutOfFramesError, OvercommitError } from "../src/core/errors.ts";
import { contentOfSeed } from "./oracles/content-seed.ts";

const PAGE = 4096;
const CLASS0 = (low: bigint): bigint => low; // 512 random words: incompressible
const CLASS1 = (low: bigint): bigint => (1n << 62n) | low; // 128 words
const CLASS3 = (low: bigint): bigint => (3n << 62n) | low; // 8 words: compresses to ~80 bytes

const machines: Machine[] = [];
function newMachine(options: Parameters<typeof Machine.create>[0]): Machine {
  const machine = Machine.create(options);
  machines.push(machine);
  return machine;
}
afterEach(() => {
  for (const machine of machines.splice(0)) machine.dispose();
});

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);
const sha = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

function xorshiftBytes(seed: number, length = PAGE): Uint8Array {
  let s = seed >>> 0 || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** Resident (private or shared) pages of all VMs, with their content hashes from readPage. */
function residentContents(machine: Machine): { resident: number; distinct: number; sharedContents: number; zeroByVm: number[] } {
  const holders = new Map<string, number>();
  let resident = 0;
  const zeroByVm: number[] = [];
  for (let vm = 0; vm < machine.vmCount; vm++) {
    let zeros = 0;
    for (let gpn = 0; gpn < machine.vmPages(vm); gpn++) {
      const { state } = machine.pageInfo(vm, gpn);
      if (state !== "private" && state !== "shared") continue;
      resident++;
      const bytes = machine.readPage(vm, gpn);
      if (bytes.every((b) => b === 0)) zeros++;
      const key = sha(bytes);
      holders.set(key, (holders.get(key) ?? 0) + 1);
    }
    zeroByVm.push(zeros);
  }
  const sharedContents = [...holders.values()].filter((n) => n >= 2).length;
  return { resident, distinct: holders.size, sharedContents, zeroByVm };
}

describe("copy-on-write", () => {
  it("a write to a shared page gives the writer a private copy and leaves the other mapper's content", () => {
    const machine = newMachine({ frames: 32 });
    const a = machine.addVm({ pages: 8 });
    const b = machine.addVm({ pages: 8 });
    const seed = CLASS1(77n);
    const content = contentOfSeed(seed);
    machine.writeSeed(a, 0, seed);
    machine.writeSeed(b, 3, seed);
    expect(machine.scanToConvergence({ seed: 5n }).mergedPages).toBe(1);

    const infoA = machine.pageInfo(a, 0);
    const infoB = machine.pageInfo(b, 3);
    expect(infoA.state).toBe("shared");
    expect(infoB.state).toBe("shared");
    expect(infoA.index).toBe(infoB.index);
    let host = machine.hostCounters();
    expect(host).toMatchObject({ sharedFrames: 1, pagesSharing: 2, savedPages: 1, guestFrames: 1 });
    expect(machine.vmCounters(a).sharedPages).toBe(1);
    expect(machine.vmCounters(b).sharedPages).toBe(1);

    machine.writeBytes(a, 0, 100, Uint8Array.of(1, 2, 3));
    machine.audit();
    const afterA = machine.pageInfo(a, 0);
    const afterB = machine.pageInfo(b, 3);
    expect(afterA.state).toBe("private");
    expect(afterA.index).not.toBe(infoA.index);
    // The last reference makes the shared frame private again, in place.
    expect(afterB).toMatchObject({ state: "private", index: infoB.index });
    host = machine.hostCounters();
    expect(host).toMatchObject({ sharedFrames: 0, pagesSharing: 0, savedPages: 0, guestFrames: 2 });
    expect(machine.vmCounters(a)).toMatchObject({ cowBreaks: 1, sharedPages: 0, privatePages: 1 });
    expect(machine.vmCounters(b)).toMatchObject({ cowBreaks: 0, sharedPages: 0, privatePages: 1 });

    expect(same(machine.readPage(b, 3), content)).toBe(true);
    const expectedA = content.slice();
    expectedA.set([1, 2, 3], 100);
    expect(same(machine.readPage(a, 0), expectedA)).toBe(true);
  });

  it("with three mappers, one COW break leaves a frame shared by two", () => {
    const machine = newMachine({ frames: 32 });
    const vm = machine.addVm({ pages: 8 });
    const seed = CLASS3(9n);
    machine.writeSeeds(vm, [0, 1, 2], [seed, seed, seed]);
    machine.scanToConvergence();
    expect(machine.hostCounters()).toMatchObject({ sharedFrames: 1, pagesSharing: 3, savedPages: 2, guestFrames: 1 });

    const touched = machine.touchWrite(vm, [1]); // bytes kept, COW broken
    expect(touched.stop).toBe("none");
    machine.audit();
    expect(machine.pageInfo(vm, 1).state).toBe("private");
    expect(machine.pageInfo(vm, 0).state).toBe("shared");
    expect(machine.pageInfo(vm, 2).state).toBe("shared");
    expect(machine.hostCounters()).toMatchObject({ sharedFrames: 1, pagesSharing: 2, savedPages: 1, guestFrames: 2 });
    expect(machine.vmCounters(vm).cowBreaks).toBe(1);
    for (const gpn of [0, 1, 2]) expect(same(machine.readPage(vm, gpn), contentOfSeed(seed))).toBe(true);
    // The copy still equals the shared frame: the next scan merges it back.
    expect(machine.scanToConvergence({ seed: 2n }).mergedPages).toBe(1);
    expect(machine.hostCounters()).toMatchObject({ sharedFrames: 1, pagesSharing: 3, savedPages: 2 });
  });

  it("a read access to a shared page does not break COW", () => {
    const machine = newMachine({ frames: 16 });
    const vm = machine.addVm({ pages: 4 });
    machine.writeSeeds(vm, [0, 1], [CLASS1(1n), CLASS1(1n)]);
    machine.scanToConvergence();
    expect(machine.touch(vm, [0, 1, 0]).stop).toBe("none");
    expect(machine.pageInfo(vm, 0).state).toBe("shared");
    expect(machine.vmCounters(vm).cowBreaks).toBe(0);
    machine.audit();
  });
});

describe("zero pages", () => {
  it("zeroPages counts resident pages known to be zero, per VM, and follows writes", () => {
    const machine = newMachine({ frames: 64 });
    const a = machine.addVm({ pages: 16 });
    const b = machine.addVm({ pages: 16 });
    machine.writeSeeds(a, [0, 1, 2], [0n, 0n, 0n]); // zero pages written by seed
    machine.touch(a, [3]); // first touch: a zeroed frame
    machine.writePage(a, 4, new Uint8Array(PAGE)); // explicit zeros
    machine.writeSeed(a, 5, CLASS1(3n));
    machine.writeSeeds(b, [0, 1], [0n, CLASS3(4n)]);
    // Untouched pages have no frame: not counted. Nothing is known before the scan hashes it.
    expect(machine.vmCounters(a).zeroPages).toBe(0);

    machine.scanToConvergence({ seed: 11n });
    machine.audit();
    expect(machine.vmCounters(a).zeroPages).toBe(5);
    expect(machine.vmCounters(b).zeroPages).toBe(1);
    // All six zero pages share one frame.
    expect(machine.hostCounters()).toMatchObject({ sharedFrames: 1, pagesSharing: 6, savedPages: 5 });
    const zeroFrame = machine.pageInfo(a, 0).index;
    for (const [vm, gpn] of [[a, 1], [a, 2], [a, 3], [a, 4], [b, 0]] as const) {
      expect(machine.pageInfo(vm, gpn)).toMatchObject({ state: "shared", index: zeroFrame });
    }

    machine.writeBytes(a, 2, 4095, Uint8Array.of(7)); // no longer zero
    machine.inflate(b, [0]); // gone to the balloon
    machine.audit();
    expect(machine.vmCounters(a).zeroPages).toBe(4);
    expect(machine.vmCounters(b).zeroPages).toBe(0);
    expect(residentContents(machine).zeroByVm).toEqual([4, 0]);
  });
});

describe("savings after a converged scan, computed from the bytes", () => {
  it("savedPages = pages - distinct contents; sharedFrames = contents held by >= 2 pages", () => {
    const machine = newMachine({ frames: 256 });
    const vms = [machine.addVm({ pages: 48 }), machine.addVm({ pages: 40 }), machine.addVm({ pages: 32 })];
    const pool = [0n, CLASS0(5n), CLASS0(6n), CLASS1(5n), CLASS1(6n), CLASS3(5n)];
    let k = 0;
    for (const vm of vms) {
      for (let gpn = 0; gpn < machine.vmPages(vm); gpn++, k++) {
        // A mix: pooled seeds (many duplicates, within and across VMs), unique seeds, random bytes,
        // and copies of random pages (duplicates that never came from a seed).
        if (k % 5 === 0) machine.writeSeed(vm, gpn, pool[(k * 7) % pool.length] ?? 0n);
        else if (k % 5 === 1) machine.writeSeed(vm, gpn, CLASS1(1000n + BigInt(k)));
        else if (k % 5 === 2) machine.writePage(vm, gpn, xorshiftBytes(k));
        else if (k % 5 === 3) machine.writePage(vm, gpn, xorshiftBytes((k % 4) + 1));
        else machine.writeSeed(vm, gpn, pool[k % 3] ?? 0n);
      }
    }
    const before = residentContents(machine);
    expect(before.resident).toBe(120);
    const result = machine.scanToConvergence({ seed: 99n });
    expect(result.passes).toBeLessThanOrEqual(2); // after one pass every page is merged or a hint
    machine.audit();
    const after = residentContents(machine);
    expect(after).toEqual(before); // contents unchanged by the scan
    const host = machine.hostCounters();
    expect(host.savedPages).toBe(before.resident - before.distinct);
    expect(host.sharedFrames).toBe(before.sharedContents);
    expect(host.guestFrames).toBe(before.distinct);
    expect(host.pagesSharing - host.sharedFrames).toBe(host.savedPages);
    expect(result.mergedPages).toBe(before.resident - before.distinct);
    expect(host.hashCollisions).toBe(0);
    // Another scan finds nothing more.
    expect(machine.scanToConvergence({ seed: 100n }).mergedPages).toBe(0);
  });
});

describe("scan orders", () => {
  it.each([1, 2, 3, 5, 17, 100, 257, 1000])("one pass of the host order over %i pages visits each page once", (pages) => {
    const machine = newMachine({ frames: pages + 4 });
    const first = machine.addVm({ pages: Math.ceil(pages / 2) });
    const second = pages > 1 ? machine.addVm({ pages: Math.floor(pages / 2) }) : -1;
    // Distinct contents everywhere: a page scanned twice is skipped the second time (already a
    // hint), so a repeated page means a missed one, and then the table holds fewer entries.
    let k = 0;
    for (const vm of [first, second]) {
      if (vm < 0) continue;
      machine.writeSeeds(vm, range(machine.vmPages(vm)), range(machine.vmPages(vm)).map(() => CLASS3(BigInt(++k))));
    }
    expect(machine.totalGuestPages).toBe(pages);
    // In uneven pieces, as a scheduler would.
    let from = 0;
    for (const count of [1, 7, 50, 1000]) {
      machine.scanHostOrder(0xfeedn, from, count);
      from += count;
    }
    expect(machine.hostCounters()).toMatchObject({ tableEntries: pages, pagesScanned: Math.min(pages, 1058) });
    expect(machine.vmCounters(first).pagesScanned).toBe(machine.vmPages(first));
    machine.audit();
  });

  it("one pass of a VM's order visits each of its pages once", () => {
    const machine = newMachine({ frames: 128 });
    machine.addVm({ pages: 20 });
    const vm = machine.addVm({ pages: 99 });
    machine.writeSeeds(vm, range(99), range(99).map((i) => CLASS3(BigInt(i) + 1n)));
    machine.scanVmOrder(vm, 42n, 0, 40);
    machine.scanVmOrder(vm, 42n, 40, 100);
    expect(machine.hostCounters().tableEntries).toBe(99);
    expect(machine.vmCounters(vm).pagesScanned).toBe(99);
    expect(machine.vmCounters(0).pagesScanned).toBe(0);
  });
});

describe("forced hash collisions (hash mask 0xF)", () => {
  it("different contents never share; equal contents still do", () => {
    const machine = newMachine({ frames: 256 });
    const a = machine.addVm({ pages: 64 });
    const b = machine.addVm({ pages: 64 });
    machine.setHashMaskForTesting(0xfn); // 16 possible hashes: nearly every lookup collides
    const written = new Map<string, Uint8Array>();
    const put = (vm: number, gpn: number, bytes: Uint8Array): void => {
      machine.writePage(vm, gpn, bytes);
      written.set(`${vm}:${gpn}`, bytes);
    };
    for (let gpn = 0; gpn < 64; gpn++) {
      put(a, gpn, gpn < 40 ? contentOfSeed(CLASS1(BigInt(gpn) + 1n)) : contentOfSeed(CLASS3(BigInt(gpn % 6) + 1n)));
      // VM b: every other page duplicates one of a's; the rest are new contents or zeros.
      put(b, gpn, gpn % 2 === 0 ? contentOfSeed(CLASS1(BigInt(gpn) + 1n)) : gpn % 3 === 0 ? new Uint8Array(PAGE) : xorshiftBytes(gpn + 500));
    }
    const before = residentContents(machine);
    machine.scanToConvergence({ seed: 3n });
    machine.audit();
    const host = machine.hostCounters();
    expect(host.hashCollisions).toBeGreaterThan(0);
    expect(host.savedPages).toBe(before.resident - before.distinct);
    expect(host.sharedFrames).toBe(before.sharedContents);
    expect(host.guestFrames).toBe(before.distinct);
    // Every page reads back what was written, and pages on one frame all hold one content.
    const contentOfFrame = new Map<number, string>();
    for (const [key, bytes] of written) {
      const [vm, gpn] = key.split(":").map(Number) as [number, number];
      expect(same(machine.readPage(vm, gpn), bytes), `vm ${vm} page ${gpn}`).toBe(true);
      const { state, index } = machine.pageInfo(vm, gpn);
      expect(["private", "shared"]).toContain(state);
      const h = sha(bytes);
      const seen = contentOfFrame.get(index);
      if (seen !== undefined) expect(seen, `frame ${index} holds two contents`).toBe(h);
      contentOfFrame.set(index, h);
    }
    expect(contentOfFrame.size).toBe(before.distinct);
  });

  it("the mask can only be set while the sharing table is empty", () => {
    const machine = newMachine({ frames: 16 });
    const vm = machine.addVm({ pages: 4 });
    machine.writeSeed(vm, 0, CLASS1(1n));
    machine.scanPages(vm, [0]);
    expect(() => machine.setHashMaskForTesting(0xfn)).toThrow(InvalidArgumentError);
    expect(() => machine.setHashMaskForTesting(0xfn)).toThrow(/sharing table is empty/);
  });
});

describe("compression cache", () => {
  it("two compressed pages per cache frame: zipCacheFrames == ceil(compressed / 2)", () => {
    const machine = newMachine({ frames: 64 });
    const vm = machine.addVm({ pages: 32 });
    const seeds = range(16).map((i) => CLASS3(BigInt(i) + 1n));
    machine.writeSeeds(vm, range(16), seeds);
    for (let k = 0; k < 16; k++) {
      const result = machine.compress(vm, [k]);
      expect(result.statuses[0]).toBe(Status.ok);
      const counters = machine.vmCounters(vm);
      expect(counters.compressedPages).toBe(k + 1);
      expect(counters.zipCacheFrames).toBe(Math.ceil((k + 1) / 2));
      expect(machine.hostCounters().zipCacheFrames).toBe(Math.ceil((k + 1) / 2));
      expect(machine.pageInfo(vm, k).state).toBe("compressed");
      machine.audit();
    }
    const host = machine.hostCounters();
    expect(host.guestFrames).toBe(0);
    expect(host.framesFree).toBe(64 - 8);
    expect(machine.vmCounters(vm).zipBytes).toBeGreaterThan(0);
    expect(machine.vmCounters(vm).zipBytes).toBeLessThanOrEqual(16 * 2048);
    // Compressed pages read back exactly (decoded, not decompressed into a frame).
    for (let k = 0; k < 16; k++) expect(same(machine.readPage(vm, k), contentOfSeed(seeds[k] ?? 0n))).toBe(true);
    expect(machine.vmCounters(vm).decompressions).toBe(0);
    expect(machine.pageInfo(vm, 0).state).toBe("compressed");

    // Touching decompresses: one decompression each, back to a private frame, same bytes.
    expect(machine.touch(vm, [0, 5]).stop).toBe("none");
    expect(machine.vmCounters(vm)).toMatchObject({ decompressions: 2, compressedPages: 14 });
    expect(machine.pageInfo(vm, 0).state).toBe("private");
    expect(same(machine.readPage(vm, 0), contentOfSeed(seeds[0] ?? 0n))).toBe(true);
    // Pages 0 and 1 shared a cache frame; 1 is still there. Decompressing 1 frees the frame.
    expect(machine.vmCounters(vm).zipCacheFrames).toBe(8);
    machine.touch(vm, [1]);
    expect(machine.vmCounters(vm).zipCacheFrames).toBe(7);
    machine.audit();
  });

  it("incompressible (class-0) pages report Status.incompressible and stay resident", () => {
    const machine = newMachine({ frames: 16 });
    const vm = machine.addVm({ pages: 8 });
    machine.writeSeeds(vm, [0, 1, 2, 3], [CLASS0(1n), CLASS0(2n), CLASS1(3n), 0n]);
    const result = machine.compress(vm, [0, 1, 2, 3, 4]);
    expect(Array.from(result.statuses)).toEqual([Status.incompressible, Status.incompressible, Status.ok, Status.ok, Status.wrongState]);
    expect(machine.vmCounters(vm)).toMatchObject({ incompressible: 2, compressions: 2, compressedPages: 2, zipCacheFrames: 1 });
    expect(machine.pageInfo(vm, 0).state).toBe("private");
    expect(machine.pageInfo(vm, 4).state).toBe("untouched");
    expect(same(machine.readPage(vm, 0), contentOfSeed(CLASS0(1n)))).toBe(true);
    machine.audit();
  });

  it("a write to a compressed page decompresses it first, then changes only the written bytes", () => {
    const machine = newMachine({ frames: 16 });
    const vm = machine.addVm({ pages: 4 });
    machine.writeSeed(vm, 0, CLASS1(8n));
    machine.compress(vm, [0]);
    machine.writeBytes(vm, 0, 2000, Uint8Array.of(0xaa, 0xbb));
    const expected = contentOfSeed(CLASS1(8n));
    expected.set([0xaa, 0xbb], 2000);
    expect(same(machine.readPage(vm, 0), expected)).toBe(true);
    expect(machine.vmCounters(vm)).toMatchObject({ decompressions: 1, compressedPages: 0, zipCacheFrames: 0 });
    machine.audit();
  });

  it("with no free frame: a page alone in its cache frame comes back in place; one that is not, does not", () => {
    const machine = newMachine({ frames: 8 });
    const vm = machine.addVm({ pages: 16 });
    const seeds = range(8).map((i) => CLASS3(BigInt(i) + 40n));
    expect(machine.writeSeeds(vm, range(8), seeds).stop).toBe("none");
    expect(machine.hostCounters().framesFree).toBe(0);
    machine.compress(vm, [0]); // its frame freed, a cache frame taken
    expect(machine.hostCounters().framesFree).toBe(0);
    machine.compress(vm, [1]); // into the second slot: one frame free
    expect(machine.hostCounters().framesFree).toBe(1);
    expect(machine.touch(vm, [8]).stop).toBe("none"); // takes it
    expect(machine.hostCounters().framesFree).toBe(0);

    const stuck = machine.touch(vm, [0]); // its cache frame still holds page 1
    expect(stuck).toMatchObject({ completed: 0, stop: "noFrames" });
    expect(machine.pageInfo(vm, 0).state).toBe("compressed");
    expect(() => machine.writeSeed(vm, 0, 1n)).toThrow(OutOfFramesError);
    expect(same(machine.readPage(vm, 0), contentOfSeed(seeds[0] ?? 0n))).toBe(true);
    machine.audit();

    machine.compress(vm, [2]); // alone in a new cache frame
    expect(machine.hostCounters().framesFree).toBe(0);
    const back = machine.touch(vm, [2]);
    expect(back).toMatchObject({ completed: 1, stop: "none" });
    expect(machine.pageInfo(vm, 2).state).toBe("private");
    expect(same(machine.readPage(vm, 2), contentOfSeed(seeds[2] ?? 0n))).toBe(true);
    machine.audit();
  });

  it("compressing a shared page needs a cache frame: noFrames when none is free", () => {
    const machine = newMachine({ frames: 4 });
    const vm = machine.addVm({ pages: 8 });
    machine.writeSeeds(vm, [0, 1], [CLASS3(1n), CLASS3(1n)]);
    machine.scanToConvergence();
    machine.writeSeeds(vm, [2, 3, 4], [CLASS1(2n), CLASS1(3n), CLASS1(4n)]);
    expect(machine.hostCounters().framesFree).toBe(0);
    const result = machine.compress(vm, [0]);
    expect(result).toMatchObject({ completed: 0, stop: "noFrames" });
    expect(machine.pageInfo(vm, 0).state).toBe("shared");
    machine.audit();
  });
});

describe("host swap files", () => {
  it("swapped pages live in the VM's swap file, read back, and return on swap-in or touch", () => {
    const machine = newMachine({ frames: 32 });
    const vm = machine.addVm({ pages: 16 });
    const seeds = range(6).map((i) => CLASS1(BigInt(i) + 20n));
    machine.writeSeeds(vm, range(6), seeds);
    machine.compress(vm, [5]); // compressed pages can be swapped too
    const path = machine.swapFilePath(vm);
    expect(existsSync(path)).toBe(true);
    expect(path.startsWith(machine.swapDirectory)).toBe(true);

    const out = machine.swapOut(vm, [0, 1, 2, 5, 9]);
    expect(Array.from(out.statuses)).toEqual([Status.ok, Status.ok, Status.ok, Status.ok, Status.wrongState]);
    expect(machine.vmCounters(vm)).toMatchObject({ swappedPages: 4, swapOuts: 4, compressedPages: 0, zipCacheFrames: 0 });
    expect(machine.swapSlotsUsed(vm)).toBe(4);
    machine.audit();
    const file = readFileSync(path);
    for (const gpn of [0, 1, 2, 5]) {
      const info = machine.pageInfo(vm, gpn);
      expect(info.state).toBe("swapped");
      const slot = file.subarray(info.index * PAGE, (info.index + 1) * PAGE);
      expect(same(slot, contentOfSeed(seeds[gpn] ?? 0n)), `slot ${info.index} of page ${gpn}`).toBe(true);
      expect(same(machine.readPage(vm, gpn), contentOfSeed(seeds[gpn] ?? 0n))).toBe(true); // read without swapping in
      expect(machine.pageInfo(vm, gpn).state).toBe("swapped");
    }

    const back = machine.swapIn(vm, [0, 3]);
    expect(Array.from(back.statuses)).toEqual([Status.ok, Status.wrongState]);
    expect(machine.touch(vm, [1]).stop).toBe("none"); // a guest access swaps in
    machine.writeSeed(vm, 2, 0n); // so does a write (then overwrites)
    expect(machine.vmCounters(vm)).toMatchObject({ swappedPages: 1, swapIns: 3 });
    expect(machine.swapSlotsUsed(vm)).toBe(1);
    expect(same(machine.readPage(vm, 0), contentOfSeed(seeds[0] ?? 0n))).toBe(true);
    expect(same(machine.readPage(vm, 1), contentOfSeed(seeds[1] ?? 0n))).toBe(true);
    expect(machine.readPage(vm, 2).every((b) => b === 0)).toBe(true);
    // Inflating a swapped page gives its slot back.
    machine.inflate(vm, [5]);
    expect(machine.swapSlotsUsed(vm)).toBe(0);
    machine.audit();
  });

  it("a swap-out list naming swapped, untouched or repeated pages neither fails nor leaks slots", () => {
    // Regression: Machine.swapOut took a swap slot for every record up front, so on a VM whose file
    // (one slot per page) was partly used, a list naming already-swapped or repeated pages threw
    // "swap file is full" and leaked the slots it had taken.
    const machine = newMachine({ frames: 8 });
    const vm = machine.addVm({ pages: 2 });
    machine.writeSeeds(vm, [0, 1], [CLASS1(1n), CLASS1(2n)]);
    machine.swapOut(vm, [0]);
    const result = machine.swapOut(vm, [0, 1]);
    expect(Array.from(result.statuses)).toEqual([Status.wrongState, Status.ok]);
    expect(machine.swapSlotsUsed(vm)).toBe(2);
    machine.swapIn(vm, [0, 1]);
    expect(machine.swapSlotsUsed(vm)).toBe(0);
    const repeated = machine.swapOut(vm, [1, 1, 0, 1, 0]);
    expect(Array.from(repeated.statuses)).toEqual([Status.ok, Status.wrongState, Status.ok, Status.wrongState, Status.wrongState]);
    expect(machine.swapSlotsUsed(vm)).toBe(machine.vmCounters(vm).swappedPages);
    for (const gpn of [0, 1]) expect(same(machine.readPage(vm, gpn), contentOfSeed(CLASS1(BigInt(gpn) + 1n)))).toBe(true);

    const big = machine.addVm({ pages: 8 });
    machine.touch(big, [0, 1, 2]);
    const all = machine.swapOut(big, [...range(8), ...range(8)]); // untouched pages and every page twice
    expect(Array.from(all.statuses).filter((s) => s === Status.ok)).toHaveLength(3);
    expect(machine.swapSlotsUsed(big)).toBe(3);
    machine.audit();
  });

  it("dispose() deletes the swap files (and the directory the machine made)", () => {
    const machine = Machine.create({ frames: 16 });
    const a = machine.addVm({ pages: 8 });
    const b = machine.addVm({ pages: 8 });
    machine.writeSeeds(a, [0, 1], [CLASS1(1n), CLASS1(2n)]);
    machine.swapOut(a, [0, 1]);
    const paths = [machine.swapFilePath(a), machine.swapFilePath(b)];
    const dir = machine.swapDirectory;
    for (const p of paths) expect(existsSync(p)).toBe(true);
    machine.dispose();
    for (const p of paths) expect(existsSync(p)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    machine.dispose(); // idempotent
  });

  it("a caller's swap directory is kept, its swap files removed", () => {
    const dir = mkdtempSync(join(tmpdir(), "overcommit-test-swap-"));
    try {
      const machine = Machine.create({ frames: 16, swapDirectory: dir });
      machine.addVm({ pages: 4 });
      machine.addVm({ pages: 4 });
      expect(readdirSync(dir).sort()).toEqual(["vm0.vswp", "vm1.vswp"]);
      machine.dispose();
      expect(existsSync(dir)).toBe(true);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ballooning", () => {
  it("inflate frees what backed the page; deflate returns it as zeros; guest access in between is refused", () => {
    const machine = newMachine({ frames: 16 });
    const vm = machine.addVm({ pages: 8 });
    machine.writeSeeds(vm, [0, 1, 2], [CLASS1(1n), CLASS3(2n), CLASS1(3n)]);
    machine.compress(vm, [1]);
    const free = machine.hostCounters().framesFree;
    const result = machine.inflate(vm, [0, 1, 7, 0]);
    expect(Array.from(result.statuses)).toEqual([Status.ok, Status.ok, Status.ok, Status.wrongState]);
    expect(machine.hostCounters().framesFree).toBe(free + 2); // page 0's frame and page 1's cache frame
    expect(machine.vmCounters(vm)).toMatchObject({ balloonedPages: 3, balloonInflates: 3, zipCacheFrames: 0 });
    expect(machine.readPage(vm, 0).every((b) => b === 0)).toBe(true);

    expect(machine.touch(vm, [2, 0, 3])).toMatchObject({ completed: 1, stop: "ballooned" });
    expect(machine.pageInfo(vm, 3).state).toBe("untouched"); // not reached
    expect(() => machine.writeSeed(vm, 7, 5n)).toThrow(expect.objectContaining({ code: "BALLOONED_PAGE" }));

    expect(Array.from(machine.deflate(vm, [0, 2]).statuses)).toEqual([Status.ok, Status.wrongState]);
    expect(machine.pageInfo(vm, 0).state).toBe("untouched");
    expect(machine.readPage(vm, 0).every((b) => b === 0)).toBe(true);
    expect(machine.touch(vm, [0]).stop).toBe("none");
    machine.audit();
  });
});

describe("low-memory remapping for I/O", () => {
  it("moves private pages into low frames, keeps bytes and sharing-table entries", () => {
    const machine = newMachine({ frames: 32, lowFrames: 2 });
    const vm = machine.addVm({ pages: 8 });
    machine.writeSeeds(vm, [0, 1, 2, 3, 4], [CLASS1(1n), CLASS1(2n), CLASS1(3n), CLASS3(4n), CLASS3(4n)]);
    for (const gpn of [0, 1, 2]) expect(machine.pageInfo(vm, gpn).index).toBeGreaterThanOrEqual(2); // high first
    machine.scanPages(vm, [0]); // a hint: its table entry must follow the move
    machine.scanToConvergence();
    const result = machine.moveToLowMemory(vm, [0, 0, 1, 2, 3, 7]);
    expect(Array.from(result.statuses)).toEqual([Status.ok, Status.skipped, Status.ok, Status.noLowFrames, Status.wrongState, Status.wrongState]);
    expect(machine.pageInfo(vm, 0).index).toBeLessThan(2);
    expect(machine.pageInfo(vm, 1).index).toBeLessThan(2);
    expect(machine.hostCounters().lowFramesFree).toBe(0);
    expect(machine.vmCounters(vm).framesMovedLow).toBe(2);
    for (const gpn of [0, 1, 2]) expect(same(machine.readPage(vm, gpn), contentOfSeed(CLASS1(BigInt(gpn) + 1n)))).toBe(true);
    machine.audit();
    // The moved hint still matches: a new copy of page 0's content merges with the low frame.
    machine.writeSeed(vm, 5, CLASS1(1n));
    machine.scanPages(vm, [5]);
    expect(machine.pageInfo(vm, 5)).toMatchObject({ state: "shared", index: machine.pageInfo(vm, 0).index });
    machine.audit();
  });
});

describe("a machine with no free frame left", () => {
  it("touch and writeSeeds stop with noFrames; single writes throw; the core stays consistent", () => {
    const machine = newMachine({ frames: 16 });
    const a = machine.addVm({ pages: 24 });
    const b = machine.addVm({ pages: 8 });
    const touched = machine.touch(a, range(24));
    expect(touched).toMatchObject({ completed: 16, stop: "noFrames" });
    expect(Array.from(touched.statuses.subarray(0, 16)).every((s) => s === Status.ok)).toBe(true);
    expect(machine.hostCounters()).toMatchObject({ framesFree: 0, guestFrames: 16 });
    expect(machine.vmCounters(a)).toMatchObject({ privatePages: 16, untouchedPages: 8 });
    machine.audit();

    const written = machine.writeSeeds(b, [0, 1], [CLASS1(1n), CLASS1(2n)]);
    expect(written).toMatchObject({ completed: 0, stop: "noFrames" });
    expect(() => machine.writeSeed(b, 0, CLASS1(1n))).toThrow(OutOfFramesError);
    expect(() => machine.writePage(a, 20, new Uint8Array(PAGE).fill(1))).toThrow(/machine memory is exhausted/);
    expect(machine.pageInfo(b, 0).state).toBe("untouched");
    expect(machine.pageInfo(a, 20).state).toBe("untouched");
    // Writes to pages that already have a private frame need no new frame.
    machine.writeSeed(a, 3, CLASS1(3n));
    expect(same(machine.readPage(a, 3), contentOfSeed(CLASS1(3n)))).toBe(true);
    machine.audit();

    // Sharing reclaims: the 15 zero pages collapse onto one frame, and the guest can go on.
    machine.scanToConvergence();
    expect(machine.hostCounters()).toMatchObject({ framesFree: 14, savedPages: 14, sharedFrames: 1 });
    // With every frame in use again, a COW break cannot get its copy: the page stays shared.
    expect(machine.touch(a, range(8, 16)).stop).toBe("none");
    expect(machine.writeSeeds(b, range(6), range(6).map((i) => CLASS1(BigInt(i) + 50n))).stop).toBe("none");
    expect(machine.hostCounters().framesFree).toBe(0);
    machine.audit();
    const sharedGpn = range(24).find((g) => machine.pageInfo(a, g).state === "shared") ?? -1;
    expect(sharedGpn).toBeGreaterThanOrEqual(0);
    expect(() => machine.writeBytes(a, sharedGpn, 0, Uint8Array.of(1))).toThrow(OutOfFramesError);
    expect(machine.touchWrite(a, [sharedGpn])).toMatchObject({ completed: 0, stop: "noFrames" });
    expect(machine.pageInfo(a, sharedGpn).state).toBe("shared");
    expect(machine.readPage(a, sharedGpn).every((x) => x === 0)).toBe(true);
    expect(machine.vmCounters(a).cowBreaks).toBe(0);
    machine.audit();
  });

  it("an error thrown for a full machine is an OvercommitError with code OUT_OF_FRAMES", () => {
    const machine = newMachine({ frames: 1 });
    const vm = machine.addVm({ pages: 2 });
    machine.writeSeed(vm, 0, 1n);
    try {
      machine.writeSeed(vm, 1, 2n);
      expect.unreachable("writeSeed should have thrown");
    } catch (error) {
      expect(error).toBeInstanceOf(OvercommitError);
      expect(error).toMatchObject({ code: "OUT_OF_FRAMES", name: "OutOfFramesError" });
      expect((error as Error).message).toMatch(/vm 0 page 1/);
      expect((error as Error).message).toMatch(/1 frames/);
    }
    machine.audit();
  });
});
