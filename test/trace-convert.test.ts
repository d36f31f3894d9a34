// Converting between formats (src/cli/trace.ts over the readers and writers): binary -> JSONL ->
// binary gives the same bytes and every event exactly (random traces, page bytes included); other
// formats convert too; `trace inspect` counts agree with an independent count; and the commands
// work as a user runs them.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli/main.ts";
import { inspectTrace, outputFormat, parseVmTable, runTraceConvert } from "../src/cli/trace.ts";
import { BinaryTraceWriter } from "../src/trace/binary.ts";
import { TraceOp, opName, type TraceHeader, type TraceSource } from "../src/trace/events.ts";
import { generateTrace } from "../src/trace/generate.ts";
import type { BlockFileWriter } from "../src/trace/file-writer.ts";
import { JsonlTraceWriter } from "../src/trace/jsonl.ts";
import { openTrace } from "../src/trace/open.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-convert-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
function path(ext: string): string {
  return join(dir, `c${fileCount++}${ext}`);
}

interface Event {
  t: number;
  vm: number;
  op: number;
  gpn: number;
  pages: number;
  low: number;
  high: number;
  bytes?: Uint8Array;
}

async function events(source: TraceSource): Promise<Event[]> {
  const out: Event[] = [];
  for await (const chunk of source.chunks()) {
    for (let i = 0; i < chunk.count; i++) {
      const bytes = chunk.bytes.get(i);
      out.push({
        t: chunk.timeMs[i] ?? 0,
        vm: chunk.vm[i] ?? 0,
        op: chunk.op[i] ?? 0,
        gpn: chunk.gpn[i] ?? 0,
        pages: chunk.pages[i] ?? 0,
        low: chunk.argLow[i] ?? 0,
        high: chunk.argHigh[i] ?? 0,
        ...(bytes ? { bytes: new Uint8Array(bytes) } : {}),
      });
    }
  }
  return out;
}

// ---- random traces ---------------------------------------------------------------------------------

const vmName = fc.oneof(fc.constantFrom("vm1", "db", 'odd "quoted" \\ name', "ünï €", "a,b:c"), fc.string({ minLength: 1, maxLength: 12 }));
const headerArb: fc.Arbitrary<TraceHeader> = fc
  .uniqueArray(fc.record({ name: vmName, pages: fc.integer({ min: 1, max: 5000 }) }), { minLength: 1, maxLength: 3, selector: (vm) => vm.name })
  .map((vms) => ({ vms }));

/** Events valid for `header`, in time order, integer milliseconds (what binary holds). */
function eventsArb(header: TraceHeader, integerMs: boolean): fc.Arbitrary<Event[]> {
  const one = fc.integer({ min: 0, max: header.vms.length - 1 }).chain((vm) => {
    const pages = header.vms[vm]?.pages ?? 1;
    const range = fc.integer({ min: 0, max: pages - 1 }).chain((gpn) => fc.record({ gpn: fc.constant(gpn), pages: fc.integer({ min: 1, max: Math.min(pages - gpn, 64) }) }));
    const pageOp = (op: number) => range.map((r) => ({ vm, op, gpn: r.gpn, pages: r.pages, low: 0, high: 0 }));
    return fc.oneof(
      pageOp(TraceOp.touch),
      pageOp(TraceOp.alloc),
      pageOp(TraceOp.free),
      pageOp(TraceOp.io),
      fc.tuple(range, fc.nat({ max: 0xffffffff }), fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff)).map(([r, low, high]) => ({ vm, op: TraceOp.write, gpn: r.gpn, pages: r.pages, low, high })),
      fc.tuple(fc.integer({ min: 0, max: pages - 1 }), fc.nat(1000)).map(([gpn, fill]) => ({
        vm,
        op: TraceOp.writeBytes,
        gpn,
        pages: 1,
        low: 0,
        high: 0,
        bytes: new Uint8Array(4096).map((_, i) => (fill * 31 + i * (fill | 1)) & 0xff),
      })),
      fc.integer({ min: 0, max: pages }).map((target) => ({ vm, op: TraceOp.balloon, gpn: 0, pages: target, low: 0, high: 0 })),
      fc.constantFrom(TraceOp.idle, TraceOp.active).map((op) => ({ vm, op, gpn: 0, pages: 0, low: 0, high: 0 })),
    );
  });
  const step = integerMs ? fc.oneof(fc.constant(0), fc.nat(5000), fc.nat(0xfffff)) : fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e6, noNaN: true }));
  return fc.array(fc.tuple(step, one), { maxLength: 40 }).map((list) => {
    let t = 0;
    return list.map(([dt, event]) => {
      t = Math.min(t + dt, integerMs ? 0xffffffff : Number.MAX_SAFE_INTEGER);
      return { t, ...event } as Event;
    });
  });
}

function writeAll(writer: BlockFileWriter, list: readonly Event[]): void {
  for (const e of list) writer.writeEvent(e.t, e.vm, e.op, e.gpn, e.pages, e.low, e.high, e.bytes);
  writer.close();
}

describe("trace convert", () => {
  it("binary -> JSONL -> binary: the same bytes, and every event exactly in between", async () => {
    const traceArb = headerArb.chain((header) => fc.tuple(fc.constant(header), eventsArb(header, true)));
    await fc.assert(
      fc.asyncProperty(traceArb, async ([header, list]) => {
        const bin = path(".bin");
        writeAll(new BinaryTraceWriter(bin, header), list);
        const jsonl = path(".jsonl");
        const back = path(".bin");
        const there = await runTraceConvert(bin, jsonl, { progress: false });
        expect(there).toMatchObject({ from: "binary", to: "jsonl", events: list.length, vms: header.vms.length });
        const jsonlSource = await openTrace(jsonl);
        expect(jsonlSource.header).toEqual(header);
        expect(await events(jsonlSource)).toEqual(list);
        await runTraceConvert(jsonl, back, { progress: false });
        expect(Buffer.compare(readFileSync(back), readFileSync(bin))).toBe(0);
        // The writer writes JSONL from events as the converter does.
        const direct = path(".jsonl");
        writeAll(new JsonlTraceWriter(direct, header), list);
        expect(readFileSync(direct, "utf8")).toBe(readFileSync(jsonl, "utf8"));
      }),
      { seed: 42, numRuns: 60 },
    );
  });

  it("JSONL -> JSONL keeps times that are not whole milliseconds exactly", async () => {
    const traceArb = headerArb.chain((header) => fc.tuple(fc.constant(header), eventsArb(header, false)));
    await fc.assert(
      fc.asyncProperty(traceArb, async ([header, list]) => {
        const first = path(".jsonl");
        writeAll(new JsonlTraceWriter(first, header), list);
        const second = path(".jsonl");
        await runTraceConvert(first, second, { progress: false, to: "jsonl" });
        expect(readFileSync(second, "utf8")).toBe(readFileSync(first, "utf8"));
        expect(await events(await openTrace(second))).toEqual(list);
      }),
      { seed: 43, numRuns: 40 },
    );
  });

  it("converts lackey and fingerprint traces, with the options they need", async () => {
    const lackey = path(".txt");
    writeFileSync(lackey, "==1== Lackey\nI  00400000,4\n S 7FF000010,8\n L 00400004,4\n");
    const out = path(".jsonl");
    const report = await runTraceConvert(lackey, out, { progress: false, lackeyVmMib: 1, lackeyRate: 2 });
    expect(report).toMatchObject({ from: "lackey", to: "jsonl", events: 3, vms: 1 });
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe('{"overcommit":"trace","version":1,"vms":[{"name":"vm1","pages":256}]}');
    expect(lines[1]).toBe('{"t":0,"vm":"vm1","op":"touch","gpn":0}');
    expect(lines[2]).toMatch(/^\{"t":0\.5,"vm":"vm1","op":"write","gpn":1,"seed":"0x[0-9a-f]+"\}$/);
    expect(lines[3]).toBe('{"t":1,"vm":"vm1","op":"touch","gpn":0}');

    const fingerprints = path(".txt");
    writeFileSync(fingerprints, "vm a 4\nvm b 2\nsnapshot 0 a\n0\n0\nff\nsnapshot 1 b\nff\n");
    const bin = path(".bin");
    expect(await runTraceConvert(fingerprints, bin, { progress: false })).toMatchObject({ from: "fingerprints", to: "binary", events: 3, vms: 2 });
    expect((await events(await openTrace(bin))).map((e) => [e.t, e.vm, opName(e.op), e.gpn, e.pages, e.low])).toEqual([
      [0, 0, "write", 0, 2, 0],
      [0, 0, "write", 2, 1, 0xff],
      [1000, 1, "write", 0, 1, 0xff],
    ]);

    const headerless = path(".jsonl");
    writeFileSync(headerless, '{"t":0,"vm":"x","op":"touch","gpn":1}\n');
    await expect(runTraceConvert(headerless, path(".bin"), { progress: false })).rejects.toThrow(/no header line/);
    const withVms = path(".bin");
    await runTraceConvert(headerless, withVms, { progress: false, jsonlVms: parseVmTable("x:1,y:8p") });
    expect((await openTrace(withVms)).header.vms).toEqual([{ name: "x", pages: 256 }, { name: "y", pages: 8 }]);
  });

  it("leaves no output when the input turns out bad, and refuses to overwrite its input", async () => {
    const bad = path(".jsonl");
    writeFileSync(bad, '{"overcommit":"trace","version":1,"vms":[{"name":"a","pages":4}]}\n{"t":0,"vm":0,"op":"touch","gpn":1}\n{"t":0,"vm":0,"op":"touch","gpn":9}\n');
    const out = path(".bin");
    await expect(runTraceConvert(bad, out, { progress: false })).rejects.toThrow(/line 3: gpn: pages 9\.\.9 are outside VM "a"/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).some((name) => name.includes(".partial-"))).toBe(false);
    await expect(runTraceConvert(bad, bad, { progress: false, to: "jsonl" })).rejects.toThrow(/is the input file/);
    expect(() => outputFormat("out.trace", undefined)).toThrow(/name it \.jsonl or \.bin, or give --to/);
    // A JSONL time past the binary format's u32 milliseconds is a clean error.
    const late = path(".jsonl");
    writeFileSync(late, '{"overcommit":"trace","version":1,"vms":[{"name":"a","pages":4}]}\n{"t":5000000,"vm":0,"op":"touch","gpn":1}\n');
    await expect(runTraceConvert(late, path(".bin"), { progress: false })).rejects.toThrow(/cannot write .* as binary: time 5000000000 ms does not fit/);
  });
});

describe("trace inspect", () => {
  it("counts events per op, distinct pages and writes per VM like an independent count", async () => {
    const traceArb = headerArb.chain((header) => fc.tuple(fc.constant(header), eventsArb(header, true)));
    await fc.assert(
      fc.asyncProperty(traceArb, async ([header, list]) => {
        const bin = path(".bin");
        writeAll(new BinaryTraceWriter(bin, header), list);
        const report = await inspectTrace(bin, { progress: false });
        expect(report.format).toBe("binary");
        expect(report.events).toBe(list.length);
        for (const [code, name] of [[TraceOp.touch, "touch"], [TraceOp.writeBytes, "writeBytes"], [TraceOp.balloon, "balloon"]] as const) {
          expect(report.ops[name]).toBe(list.filter((e) => e.op === code).length);
        }
        expect(report.spanSec).toBe(list.length ? ((list.at(-1)?.t ?? 0) - (list[0]?.t ?? 0)) / 1000 : 0);
        header.vms.forEach((vm, i) => {
          const mine = list.filter((e) => e.vm === i);
          const used = new Set<number>();
          for (const e of mine) {
            if (e.op === TraceOp.touch || e.op === TraceOp.write || e.op === TraceOp.writeBytes || e.op === TraceOp.io) for (let p = e.gpn; p < e.gpn + e.pages; p++) used.add(p);
          }
          expect(report.vms[i]).toEqual({
            name: vm.name,
            pages: vm.pages,
            memoryMiB: vm.pages / 256,
            events: mine.length,
            distinctPages: used.size,
            writes: mine.filter((e) => e.op === TraceOp.write || e.op === TraceOp.writeBytes).length,
          });
        });
      }),
      { seed: 44, numRuns: 40 },
    );
  });
});

describe("the trace commands as a user runs them", () => {
  const run = promisify(execFile);

  /** The command in this process (main() with stdout and stderr captured). */
  async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
    try {
      const code = await main(args);
      return { code, stdout: out.join(""), stderr: err.join("") };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it("gen writes JSONL for a .jsonl name (a real process); convert and inspect read it; errors exit 1", async () => {
    const jsonl = path(".jsonl");
    const bin = path(".bin");
    const gen = await run(process.execPath, ["--import", "tsx", "src/cli/main.ts", "trace", "gen", "-o", jsonl, "--vms", "3", "--vm-mib", "1", "--events", "2000", "--duration", "20", "--seed", "7", "--no-progress"], {
      cwd: process.cwd(),
    });
    expect(gen.stderr).toContain("wrote 2,000 events for 3 VMs");
    expect(gen.stderr).toContain("(jsonl)");
    // The file holds exactly what the generator makes.
    const generated = await events(generateTrace({ vms: 3, vmMiB: 1, events: 2000, durationSec: 20, seed: 7n, workload: "boot", writePct: 10, sharedPct: 30 }));
    expect(await events(await openTrace(jsonl))).toEqual(generated);

    const convert = await inProcess(["trace", "convert", jsonl, bin, "--no-progress"]);
    expect(convert.code, convert.stderr).toBe(0);
    expect(convert.stderr).toMatch(/converted .* \(jsonl\) to .* \(binary\): 2,000 events, 3 VMs/);
    expect(await events(await openTrace(bin))).toEqual(generated);

    const inspect = await inProcess(["trace", "inspect", "--json", "--no-progress", jsonl]);
    expect(inspect.code, inspect.stderr).toBe(0);
    const lines = inspect.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0] ?? "") as { format: string; events: number; ops: Record<string, number>; vms: { name: string; events: number }[] };
    expect(report.format).toBe("jsonl");
    expect(report.events).toBe(2000);
    expect((report.ops.write ?? 0) + (report.ops.touch ?? 0)).toBe(2000);
    expect(report.ops.touch).toBe(generated.filter((e) => e.op === TraceOp.touch).length);
    expect(report.vms.map((vm) => vm.name)).toEqual(["vm1", "vm2", "vm3"]);

    const bad = await inProcess(["trace", "convert", jsonl, path(".out")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot tell the output format of .*\.out: name it \.jsonl or \.bin, or give --to binary\|jsonl/);

    const lackey = path(".txt");
    writeFileSync(lackey, "I  00400000,4\n S 00500000,4\n");
    const table = await inProcess(["trace", "inspect", lackey, "--lackey-vm-mib", "2", "--lackey-rate", "1"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/trace +.* \(lackey, 28 bytes\)/);
    expect(table.stdout).toMatch(/events +2 \(touch 1, write 1\)/);
    expect(table.stdout).toMatch(/time +0 s to 1 s \(span 1 s\)/);
    expect(table.stdout).toMatch(/vm1 +2 MiB +512 +2 +2 +1/);
    const noVms = await inProcess(["trace", "inspect", "--format", "jsonl", lackey]);
    expect(noVms.code).toBe(1);
    expect(noVms.stderr).toMatch(/no header line .* and no VM table given/);
  });
});
