// Valgrind lackey traces (src/trace/lackey.ts): distinct pages in order of first appearance,
// accesses across a page boundary, deterministic store content against a BigInt oracle of the
// documented formula, coalescing, the record rate, the VM-size error, and bad lines.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { TraceFormatError, type TraceSource } from "../src/trace/events.ts";
import { lackeyStoreSeed, openLackeyTrace, type LackeyOptions } from "../src/trace/lackey.ts";
import { detectFormat, openTrace } from "../src/trace/open.ts";
import { replayTrace } from "../src/trace/replay.ts";
import { readTraceEvents } from "./helpers/trace-events.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-lackey-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

function file(text: string): string {
  const path = join(dir, `l${fileCount++}.txt`);
  writeFileSync(path, text);
  return path;
}

interface Event {
  t: number;
  op: string;
  gpn: number;
  seed: bigint;
}

async function events(source: TraceSource): Promise<Event[]> {
  return (await readTraceEvents(source)).map(({ t, vm, op, gpn, pages, seed }) => {
    expect(vm).toBe(0);
    expect(pages).toBe(1);
    return { t, op, gpn, seed };
  });
}

async function read(text: string, options: LackeyOptions = {}): Promise<Event[]> {
  return events(await openLackeyTrace(file(text), options));
}

// ---- the oracle: the documented formula in BigInt ------------------------------------------------

const M64 = (1n << 64n) - 1n;
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
function oracleSeed(previous: bigint, address: bigint, size: number, stores: number): bigint {
  const a = mix64(previous ^ address);
  return mix64(((a ^ ((BigInt(size) << 32n) | BigInt(stores))) + 0x9e3779b97f4a7c15n) & M64);
}

/** What the reader must produce for a list of accesses, computed independently. */
function oracle(accesses: readonly { kind: string; address: bigint; size: number }[], vmPages: number): Event[] {
  const gpnOf = new Map<bigint, number>();
  const seeds: bigint[] = [];
  const stores: number[] = [];
  const out: Event[] = [];
  let last = -1;
  accesses.forEach(({ kind, address, size }, k) => {
    const t = Math.floor((k * 1000) / 1_000_000);
    const firstPage = address >> 12n;
    const lastPage = (address + BigInt(size) - 1n) >> 12n;
    for (let page = firstPage; page <= lastPage; page++) {
      let gpn = gpnOf.get(page);
      if (gpn === undefined) {
        gpn = gpnOf.size;
        gpnOf.set(page, gpn);
      }
      if (gpn >= vmPages) throw new Error("too many pages");
      if (kind === "I" || kind === "L") {
        if (gpn !== last) out.push({ t, op: "touch", gpn, seed: 0n });
      } else {
        const start = page === firstPage ? address : page << 12n;
        const end = address + BigInt(size) < (page + 1n) << 12n ? address + BigInt(size) : (page + 1n) << 12n;
        const seed = oracleSeed(seeds[gpn] ?? 0n, start, Number(end - start), stores[gpn] ?? 0);
        seeds[gpn] = seed;
        stores[gpn] = (stores[gpn] ?? 0) + 1;
        out.push({ t, op: "write", gpn, seed });
      }
      last = gpn;
    }
  });
  return out;
}

function lackeyLine(kind: string, address: bigint, size: number): string {
  const hex = address.toString(16).toUpperCase().padStart(8, "0");
  return kind === "I" ? `I  ${hex},${size}` : ` ${kind} ${hex},${size}`;
}

describe("lackey traces", () => {
  it("maps distinct pages to GPNs in order of first appearance; skips == and blank lines", async () => {
    const path = file(
      [
        "==12345== Lackey, an example Valgrind tool",
        "==12345== Command: /bin/true",
        "",
        "I  0023C790,2",
        "I  0023C792,5",
        " L BE80199C,4",
        " L 0023C000,8",
        "I  00400000,4",
        " L BE801000,4",
        "==12345== ",
      ].join("\n"),
    );
    expect(await detectFormat(path)).toBe("lackey");
    const source = await openTrace(path, { lackey: { vmPages: 16 } });
    expect(source.header.vms).toEqual([{ name: "vm1", pages: 16 }]);
    const got = await events(source);
    // 0x23C (GPN 0; the second fetch and the load of 0x23C000 coalesce), 0xBE801 (1), 0x400 (2), 0xBE801 again.
    expect(got.map((e) => [e.op, e.gpn])).toEqual([
      ["touch", 0],
      ["touch", 1],
      ["touch", 0],
      ["touch", 2],
      ["touch", 1],
    ]);
  });

  it("an access across a page boundary uses both pages, each store part with its own address and size", async () => {
    const got = await read([" S 00001FFE,4", " L 00002FFF,2", "I  00004FFC,8"].join("\n"));
    // Pages 0x1 (GPN 0) and 0x2 (GPN 1) stored; the load of 0x2FFF..0x3000 uses GPN 1 again (just
    // written: coalesced) and 0x3 (GPN 2); the fetch of 0x4FFC..0x5003 uses 0x4 and 0x5.
    expect(got.map((e) => [e.op, e.gpn])).toEqual([
      ["write", 0],
      ["write", 1],
      ["touch", 2],
      ["touch", 3],
      ["touch", 4],
    ]);
    expect(got[0]?.seed).toBe(oracleSeed(0n, 0x1ffen, 2, 0));
    expect(got[1]?.seed).toBe(oracleSeed(0n, 0x2000n, 2, 0));
  });

  it("stores give the documented content seeds (BigInt oracle), the same on every read", async () => {
    const access = fc.record({
      kind: fc.constantFrom("I", "L", "S", "M"),
      // A few pages, near boundaries, some 64-bit addresses.
      address: fc.oneof(
        fc.bigInt({ min: 0x1000n, max: 0x5000n }),
        fc.bigInt({ min: 0xffff_ffff_f000n, max: 0x1_0000_0000_2000n }),
        fc.constantFrom(0xffff_ffff_ffff_e000n, 0x7ff0_0000_0fffn),
      ),
      size: fc.constantFrom(1, 2, 4, 8, 16, 64, 4096, 5000),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(access, { minLength: 1, maxLength: 60 }), async (accesses) => {
        const text = accesses.map((a) => lackeyLine(a.kind, a.address, a.size)).join("\n");
        const path = file(text);
        const expected = oracle(accesses, 1024);
        const first = await events(await openLackeyTrace(path, { vmPages: 1024, chunkEvents: 8 }));
        expect(first).toEqual(expected);
        expect(await events(await openLackeyTrace(path, { vmPages: 1024 }))).toEqual(first);
      }),
      { seed: 11, numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.bigUint64Array({ minLength: 2, maxLength: 2 }), fc.integer({ min: 1, max: 65536 }), fc.nat(), (pair, size, stores) => {
        const [previous, address] = [pair[0] ?? 0n, pair[1] ?? 0n];
        expect(lackeyStoreSeed(previous, address, size, stores)).toBe(oracleSeed(previous, address, size, stores));
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it("spreads records at the rate: record k at floor(k * 1000 / rate) ms", async () => {
    const lines = Array.from({ length: 10 }, (_, k) => ` S ${(0x10000 + k * 4096).toString(16)},4`);
    const got = await read(lines.join("\n"), { rate: 3 });
    expect(got.map((e) => e.t)).toEqual(Array.from({ length: 10 }, (_, k) => Math.floor((k * 1000) / 3)));
  });

  it("reads to the end and says how many pages the VM needed", async () => {
    const lines = Array.from({ length: 300 }, (_, k) => `I  ${(k * 4096).toString(16)},4`);
    const error = await read(lines.join("\n"), { vmPages: 256 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceFormatError);
    expect((error as Error).message).toMatch(/line 257: the trace uses 300 distinct 4 KiB pages \(1\.2 MiB\) but VM "vm1" has 256 pages \(1\.0 MiB\): give it at least 2 MiB/);
  });

  it("names the bad line and the field", async () => {
    const cases: [string, RegExp][] = [
      ["I  0023C790,2\nX 1000,4\n", /line 2: kind: expected a lackey record .* found "X 1000,4"/],
      [" L ,4\n", /line 1: address: expected a lackey record/],
      [" L 1000\n", /line 1: address: expected a lackey record/],
      [" L 1000,\n", /line 1: size: expected a lackey record/],
      [" L 1000,0\n", /line 1: size: expected 1\.\.65536 bytes, found "0"/],
      [" L 1000,70000\n", /line 1: size: expected 1\.\.65536 bytes/],
      [" L 10000000000000000,4\n", /line 1: address: expected at most 16 hex digits/],
      [" L 1000,4 extra\n", /line 1: unexpected text: expected a lackey record/],
      ["I  FFFFFFFFFFFFFFFF,2\n", /line 1: address: the access runs past the end of the 64-bit address space/],
      ["SL 1000,4\n", /line 1: kind: /],
    ];
    for (const [text, message] of cases) {
      const error = await read(text).catch((e: unknown) => e);
      expect(error, text).toBeInstanceOf(TraceFormatError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it("replays: stored pages read back as their content seeds, loaded pages as zeros", async () => {
    const lines = ["I  00400000,4", " S 7FF000010,8", " M 7FF000010,8", " L 7FF001000,4", " S 00400010,4", " S 7FF001FFC,8"];
    const path = file(lines.join("\n"));
    const expected = oracle(
      lines.map((line) => {
        const m = /^\s*([ILSM])\s+([0-9A-F]+),(\d+)$/.exec(line);
        return { kind: m?.[1] ?? "", address: BigInt(`0x${m?.[2] ?? "0"}`), size: Number(m?.[3]) };
      }),
      256,
    );
    const { host } = await replayTrace(await openTrace(path, { lackey: { vmPages: 256 } }), { hostMiB: 4, keepMetrics: false });
    try {
      const final = new Map<number, bigint>();
      for (const e of expected) final.set(e.gpn, e.op === "write" ? e.seed : (final.get(e.gpn) ?? 0n));
      expect(final.size).toBe(4);
      for (const [gpn, seed] of final) {
        expect(Buffer.compare(host.machine.readPage(0, gpn), host.machine.seedContent(seed))).toBe(0);
      }
    } finally {
      host.dispose();
    }
  });
});
