// Page-fingerprint snapshots (src/trace/fingerprints.ts): vm lines, snapshots as write events of
// changed pages only, shorter snapshots leaving the rest, errors with line numbers, and identical
// fingerprints becoming identical content that shares exactly through a replay.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Random } from "../src/sim/random.ts";
import { TraceFormatError, type TraceSource } from "../src/trace/events.ts";
import { openFingerprintTrace } from "../src/trace/fingerprints.ts";
import { detectFormat, openTrace } from "../src/trace/open.ts";
import { replayTrace } from "../src/trace/replay.ts";
import { readTraceEvents } from "./helpers/trace-events.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-fingerprints-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

function file(text: string): string {
  const path = join(dir, `f${fileCount++}.txt`);
  writeFileSync(path, text);
  return path;
}

interface Event {
  t: number;
  vm: number;
  op: string;
  gpn: number;
  pages: number;
  seed: string;
}

async function events(source: TraceSource): Promise<Event[]> {
  return (await readTraceEvents(source)).map(({ seed, ...event }) => ({ ...event, seed: seed.toString(16) }));
}

async function readError(text: string): Promise<TraceFormatError> {
  try {
    await events(await openFingerprintTrace(file(text)));
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFormatError);
    return error as TraceFormatError;
  }
  throw new Error("expected a TraceFormatError");
}

describe("fingerprint snapshots", () => {
  it("writes every listed page at a VM's first snapshot, then only the pages that changed", async () => {
    const path = file(
      [
        "# two VMs",
        "vm a 8",
        "vm b 4",
        "",
        "snapshot 0 a",
        "0",
        "0",
        "abc",
        "0xABC",
        "1",
        "snapshot 0.5 b",
        "ffffffffffffffff",
        "snapshot 1.25 a",
        "0",
        "5",
        "abc",
        "abd",
        "# page 4 and beyond: not listed, unchanged",
        "snapshot 2 a",
        "0",
        "5",
        "abc",
        "abd",
        "1",
        "7",
      ].join("\n"),
    );
    expect(await detectFormat(path)).toBe("fingerprints");
    const source = await openTrace(path);
    expect(source.format).toBe("fingerprints");
    expect(source.header.vms).toEqual([{ name: "a", pages: 8 }, { name: "b", pages: 4 }]);
    expect(await events(source)).toEqual([
      // First snapshot of a: every listed page, runs of one fingerprint coalesced.
      { t: 0, vm: 0, op: "write", gpn: 0, pages: 2, seed: "0" },
      { t: 0, vm: 0, op: "write", gpn: 2, pages: 2, seed: "abc" },
      { t: 0, vm: 0, op: "write", gpn: 4, pages: 1, seed: "1" },
      { t: 500, vm: 1, op: "write", gpn: 0, pages: 1, seed: "ffffffffffffffff" },
      // Second snapshot of a: pages 1 and 3 changed; page 4 is not listed (unchanged).
      { t: 1250, vm: 0, op: "write", gpn: 1, pages: 1, seed: "5" },
      { t: 1250, vm: 0, op: "write", gpn: 3, pages: 1, seed: "abd" },
      // Third: page 4 is listed again with its old fingerprint (no event); page 5 is new.
      { t: 2000, vm: 0, op: "write", gpn: 5, pages: 1, seed: "7" },
    ]);
    expect(source.bytesRead).toBe(source.totalBytes);
  });

  it("streams many snapshots in small chunks, comparing each only with the VM's previous one", async () => {
    const random = new Random(7);
    const pages = 64;
    const lines = ["vm x 64"];
    let previous: bigint[] = [];
    let expectedWrites = 0;
    for (let s = 0; s < 300; s++) {
      lines.push(`snapshot ${s} x`);
      const current = Array.from({ length: pages }, (_, g) => (random.nextFloat() < 0.1 ? BigInt(random.nextInt(4)) : (previous[g] ?? 0n)));
      current.forEach((fp, g) => {
        if (s === 0 || fp !== previous[g]) expectedWrites++;
        lines.push(fp.toString(16));
      });
      previous = current;
    }
    const written = await events(await openFingerprintTrace(file(lines.join("\n")), { chunkEvents: 16 }));
    expect(written.reduce((sum, e) => sum + e.pages, 0)).toBe(expectedWrites);
    expect(written.every((e) => e.op === "write")).toBe(true);
  });

  it("says what is wrong and on which line", async () => {
    const cases: [string, RegExp][] = [
      ["vm a 4\nsnapshot 0 a\n0\nvm b 4\n", /line 4: vm lines must all come before the first snapshot/],
      ["vm a 4\nsnapshot 0 zz\n", /line 2: snapshot vm: unknown VM "zz"/],
      ["vm a 2\nsnapshot 0 a\n1\n2\n3\n", /line 5: snapshot of VM "a" at line 2 lists more fingerprints than the VM's 2 pages/],
      ["vm a 4\nsnapshot 0 a\nxyz\n", /line 3: expected a 64-bit hex fingerprint.*found "xyz"/],
      ["vm a 4\nsnapshot 0 a\n10000000000000000\n", /line 3: fingerprint: expected at most 16 hex digits/],
      ["vm a 4\n1234\n", /line 2: expected "vm <name> <pages>" or "snapshot <seconds> <vm>" before the first fingerprint/],
      ["vm a 4\nsnapshot 2 a\nsnapshot 1 a\n", /line 3: snapshot time: snapshots must not go back in time/],
      ["vm a 4\nsnapshot soon a\n", /line 2: snapshot time: expected a number of seconds, found "soon a"/],
      ["vm a\n", /line 1: vm line: expected "vm <name> <pages>"/],
      ["vm a 0\n", /line 1: pages: expected a page count from 1/],
      ["vm a 4\nvm a 8\n", /line 2: vm: VM names must be unique/],
      ["# nothing\n", /expected "vm <name> <pages>" lines declaring the VMs/],
      ["vm a 4\nsnapshot 0 a b\n", /line 2: snapshot: expected "snapshot <seconds> <vm>"/],
    ];
    for (const [text, message] of cases) {
      const error = await readError(text);
      expect(error.message).toMatch(message);
    }
  });

  it("identical fingerprints give identical content: a replay shares exactly the duplicates", { timeout: 30_000 }, async () => {
    // Three VMs, fingerprints drawn from a small pool (with zero pages), over a few snapshots.
    const random = new Random(2024);
    const vms = ["web1", "web2", "db"];
    const pages = 512;
    const pool = Array.from({ length: 40 }, (_, i) => (i === 0 ? 0n : random.nextUint64()));
    const lines = vms.map((name) => `vm ${name} ${pages}`);
    const final = new Map<string, bigint[]>();
    for (let s = 0; s < 4; s++) {
      for (const name of vms) {
        const listed = s === 0 ? pages : random.nextInt(pages + 1);
        const current = final.get(name) ?? [];
        lines.push(`snapshot ${s * 10} ${name}`);
        for (let g = 0; g < listed; g++) {
          const fp = random.nextFloat() < 0.5 ? (pool[random.nextInt(pool.length)] as bigint) : random.nextUint64();
          current[g] = fp;
          lines.push(`0x${fp.toString(16)}`);
        }
        final.set(name, current);
      }
    }
    // Independent count: every page holds its last fingerprint; each distinct one needs one frame.
    const all = [...final.values()].flat();
    const distinct = new Set(all).size;
    const source = await openTrace(file(lines.join("\n")));
    // Room to spare, so no reclamation (compression, swap) takes pages out of sharing's reach.
    const { host } = await replayTrace(source, { seed: 3n, keepMetrics: false, hostMiB: 16 });
    try {
      host.machine.scanToConvergence({ seed: 9n });
      host.machine.audit();
      expect(all.length).toBe(vms.length * pages);
      expect(host.machine.hostCounters().savedPages).toBe(all.length - distinct);
      // And the bytes are the content seed's.
      const vm = host.vmId("db") ?? -1;
      const dbFinal = final.get("db") ?? [];
      for (const gpn of [0, 1, 100, pages - 1]) {
        expect(Buffer.compare(host.machine.readPage(vm, gpn), host.machine.seedContent(dbFinal[gpn] ?? 0n))).toBe(0);
      }
    } finally {
      host.dispose();
    }
  });
});
