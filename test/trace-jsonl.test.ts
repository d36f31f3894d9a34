// JSON Lines traces (src/trace/jsonl.ts): every op and field form, exact times, the VM table
// with and without a header line, the writer's text, and errors that name the line, the field,
// what was expected and what was found.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { TraceFormatError, TraceOp, type TraceSource } from "../src/trace/events.ts";
import { JsonlTraceWriter, MAX_LINE_BYTES, formatSecondsOfMs, openJsonlTrace, scanNumber, scannedNumber, type OpenJsonlOptions } from "../src/trace/jsonl.ts";
import { detectFormat, openTrace } from "../src/trace/open.ts";
import { readTraceEvents } from "./helpers/trace-events.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-jsonl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

function file(text: string | Uint8Array): string {
  const path = join(dir, `j${fileCount++}.jsonl`);
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
  bytes?: string;
}

async function events(source: TraceSource): Promise<Event[]> {
  return (await readTraceEvents(source)).map(({ seed, bytes, ...event }) => ({ ...event, seed: seed.toString(16), ...(bytes ? { bytes: Buffer.from(bytes).toString("base64") } : {}) }));
}

const HEADER = '{"overcommit":"trace","version":1,"vms":[{"name":"vm1","memoryMiB":1},{"name":"db","pages":16}]}';

async function read(lines: readonly string[], options: OpenJsonlOptions = {}): Promise<Event[]> {
  return events(await openJsonlTrace(file(lines.join("\n")), options));
}

async function readError(lines: readonly string[], options: OpenJsonlOptions = {}): Promise<string> {
  try {
    await read(lines, options);
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFormatError);
    return (error as Error).message;
  }
  throw new Error(`expected a TraceFormatError for ${lines.join(" / ")}`);
}

const page = Buffer.alloc(4096);
for (let i = 0; i < page.length; i++) page[i] = (i * 7 + 3) & 0xff;
const PAGE64 = page.toString("base64");

describe("JSON Lines traces", () => {
  it("reads every op and every field form", async () => {
    const path = file(
      "\ufeff" +
        [
          HEADER,
          "# a comment",
          "",
          '{"t":0,"vm":"vm1","op":"touch","gpn":3}',
          '  {"t":0.5, "vm":1, "op":"read", "range":[4, 7]}  ',
          '{"t":1.005,"vm":"db","op":"write","gpn":2,"pages":3,"seed":"0xDEADbeefcafebabe"}',
          '{"t":2,"vm":"vm1","op":"write","gpn":5,"seed":"18446744073709551615"}\r',
          '{"t":2,"vm":"vm1","op":"write","gpn":6,"seed":9007199254740991}',
          `{"t":3,"vm":"vm1","op":"write","gpn":7,"bytes":"${PAGE64}"}`,
          `{"t":3,"vm":"vm1","op":"write","range":[8,8],"bytes":"${PAGE64.replace(/=+$/, "")}"}`,
          '{"t":4,"vm":"db","op":"alloc","gpn":0,"pages":16}',
          '{"t":4,"vm":"db","op":"free","range":[0,15]}',
          '{"t":5,"vm":"db","op":"io","gpn":1}',
          '{"t":6,"vm":"db","op":"balloon","target":8}',
          '{"t":6,"vm":"db","op":"balloon","target":0}',
          '{"t":7,"vm":"vm1","op":"idle"}',
          '{"op":"active","vm":"vm1","t":7e3}',
          '{"\\u0074":7000,"vm":"v\\u006d1","op":"touch","gpn":0}',
        ].join("\n"),
    );
    expect(await detectFormat(path)).toBe("jsonl");
    const source = await openTrace(path);
    expect(source.format).toBe("jsonl");
    expect(source.header.vms).toEqual([{ name: "vm1", pages: 256 }, { name: "db", pages: 16 }]);
    expect(await events(source)).toEqual([
      { t: 0, vm: 0, op: "touch", gpn: 3, pages: 1, seed: "0" },
      { t: 500, vm: 1, op: "touch", gpn: 4, pages: 4, seed: "0" },
      { t: 1005, vm: 1, op: "write", gpn: 2, pages: 3, seed: "deadbeefcafebabe" },
      { t: 2000, vm: 0, op: "write", gpn: 5, pages: 1, seed: "ffffffffffffffff" },
      { t: 2000, vm: 0, op: "write", gpn: 6, pages: 1, seed: "1fffffffffffff" },
      { t: 3000, vm: 0, op: "writeBytes", gpn: 7, pages: 1, seed: "0", bytes: PAGE64 },
      { t: 3000, vm: 0, op: "writeBytes", gpn: 8, pages: 1, seed: "0", bytes: PAGE64 },
      { t: 4000, vm: 1, op: "alloc", gpn: 0, pages: 16, seed: "0" },
      { t: 4000, vm: 1, op: "free", gpn: 0, pages: 16, seed: "0" },
      { t: 5000, vm: 1, op: "io", gpn: 1, pages: 1, seed: "0" },
      { t: 6000, vm: 1, op: "balloon", gpn: 0, pages: 8, seed: "0" },
      { t: 6000, vm: 1, op: "balloon", gpn: 0, pages: 0, seed: "0" },
      { t: 7000, vm: 0, op: "idle", gpn: 0, pages: 0, seed: "0" },
      { t: 7000000, vm: 0, op: "active", gpn: 0, pages: 0, seed: "0" },
      { t: 7000000, vm: 0, op: "touch", gpn: 0, pages: 1, seed: "0" },
    ]);
    expect(source.bytesRead).toBe(source.totalBytes);
  });

  it("reads times exactly: the decimal is scaled to milliseconds before rounding", () => {
    const at = (text: string, shift: number): number => {
      const b = Buffer.from(text, "latin1");
      expect(scanNumber(b, 0, b.length, shift)).toBe(b.length);
      return scannedNumber;
    };
    expect(at("1.005", 3)).toBe(1005);
    expect(at("0.1", 3)).toBe(100);
    expect(at("4.35", 3)).toBe(4350);
    expect(at("1e-3", 3)).toBe(1);
    expect(at("2.5E3", 3)).toBe(2_500_000);
    expect(at("0.0000001", 3)).toBe(0.0001);
    expect(at("123456789.123", 3)).toBe(123456789123);
    expect(at("12345678901234567890", 0)).toBe(12345678901234567890);
    expect(at("-0", 0)).toBe(0);
    for (const bad of ["", "-", "01x", ".5", "1.", "1e", "+1"]) {
      const b = Buffer.from(bad, "latin1");
      const end = scanNumber(b, 0, b.length, 0);
      expect(end === -1 || end < b.length, bad).toBe(true);
    }
    // Whatever the milliseconds, the writer's seconds read back to exactly them.
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.double({ min: 0, max: Number.MAX_SAFE_INTEGER, noNaN: true })), (ms) => {
        const b = Buffer.from(formatSecondsOfMs(ms), "latin1");
        expect(scanNumber(b, 0, b.length, 3)).toBe(b.length);
        expect(Object.is(scannedNumber, ms)).toBe(true);
      }),
      { seed: 5, numRuns: 2000 },
    );
  });

  it("needs the VM table when there is no header line; a header wins over the option", async () => {
    const body = ['{"t":0,"vm":"a","op":"touch","gpn":3}', '{"t":1,"vm":1,"op":"touch","gpn":0}'];
    expect(await readError(body)).toMatch(/line 1: no header line .* and no VM table given: .*--jsonl-vms/);
    expect(await read(body, { vms: [{ name: "a", pages: 4 }, { name: "b", pages: 1 }] })).toEqual([
      { t: 0, vm: 0, op: "touch", gpn: 3, pages: 1, seed: "0" },
      { t: 1000, vm: 1, op: "touch", gpn: 0, pages: 1, seed: "0" },
    ]);
    const withHeader = [HEADER, '{"t":0,"vm":"db","op":"touch","gpn":3}'];
    expect(await read(withHeader, { vms: [{ name: "a", pages: 4 }] })).toEqual([{ t: 0, vm: 1, op: "touch", gpn: 3, pages: 1, seed: "0" }]);
    expect(await readError(["# only comments"], { vms: [] })).toMatch(/vms: expected at least one VM/);
    expect(await readError(body, { vms: [{ name: "a", pages: 4 }, { name: "a", pages: 1 }] })).toMatch(/VM names must be unique/);
  });

  it("says which line, which field, what was expected and what was found", async () => {
    const cases: [string, RegExp][] = [
      ['{"t":"abc","vm":0,"op":"touch","gpn":1}', /line 2: t: expected a number of seconds, found "abc"/],
      ['{"t":-1,"vm":0,"op":"touch","gpn":1}', /line 2: t: expected a number of seconds from 0 to 9e12, found -1/],
      ['{"vm":0,"op":"touch","gpn":1}', /line 2: t: missing/],
      ['{"t":1,"vm":"web","op":"touch","gpn":1}', /line 2: vm: unknown VM name "web" \(the trace's VMs: vm1, db\)/],
      ['{"t":1,"vm":2,"op":"touch","gpn":1}', /line 2: vm: expected a VM index 0\.\.1 or a VM name, found 2/],
      ['{"t":1,"vm":true,"op":"touch","gpn":1}', /line 2: vm: expected a VM name \(string\) or index \(number\), found true/],
      ['{"t":1,"vm":0,"op":"jump","gpn":1}', /line 2: op: expected one of touch, read, write, alloc, free, balloon, idle, active, io, found "jump"/],
      ['{"t":1,"vm":0,"op":"write","gpn":1,"seed":"18446744073709551616"}', /line 2: seed: out of 64-bit range/],
      ['{"t":1,"vm":0,"op":"write","gpn":1,"seed":"0x10000000000000000"}', /line 2: seed: out of 64-bit range/],
      ['{"t":1,"vm":0,"op":"write","gpn":1,"seed":"12ab"}', /line 2: seed: expected a decimal or 0x-hex string below 2\^64/],
      ['{"t":1,"vm":0,"op":"write","gpn":1,"seed":18446744073709551615}', /line 2: seed: expected a safe integer .*write larger seeds as strings/],
      ['{"t":1,"vm":0,"op":"write","gpn":1,"seed":-1}', /line 2: seed: expected a safe integer/],
      ['{"t":1,"vm":0,"op":"write","gpn":1}', /line 2: seed: missing: a write needs a seed \(or bytes\)/],
      ['{"t":1,"vm":0,"op":"write","gpn":1,"bytes":"AAAA"}', /line 2: bytes: expected base64 of exactly 4096 bytes, found 3 bytes/],
      [`{"t":1,"vm":0,"op":"write","gpn":1,"bytes":"${PAGE64.slice(0, 100)}!${PAGE64.slice(101)}"}`, /line 2: bytes: expected base64 .* found "!" at character 100/],
      [`{"t":1,"vm":0,"op":"write","gpn":1,"pages":2,"bytes":"${PAGE64}"}`, /line 2: pages: a write with bytes writes exactly one page, found 2 pages/],
      [`{"t":1,"vm":0,"op":"write","gpn":1,"seed":"1","bytes":"${PAGE64}"}`, /line 2: bytes: give seed or bytes, not both/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1,"gnp":2}', /line 2: unknown field "gnp" \(expected t, vm, op, gpn, pages, range, seed, bytes, target\)/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1,"t":2}', /line 2: t: the field appears twice/],
      ['{"t":1,"vm":0,"op":"touch","gpn":256}', /line 2: gpn: pages 256\.\.256 are outside VM "vm1" \(GPNs 0\.\.255\)/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1.5}', /line 2: gpn: expected a page number \(an integer from 0\), found 1\.5/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1,"pages":0}', /line 2: pages: expected a page count \(an integer from 1\), found 0/],
      ['{"t":1,"vm":0,"op":"touch"}', /line 2: gpn: missing: a touch event needs gpn \(and pages\) or range/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1,"range":[1,2]}', /line 2: range: give gpn \(with pages\) or range, not both/],
      ['{"t":1,"vm":0,"op":"touch","range":[3,2]}', /line 2: range: expected \[first, last\] page numbers/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1,"seed":"1"}', /line 2: seed: only write events have a seed/],
      ['{"t":1,"vm":0,"op":"idle","gpn":1}', /line 2: gpn: an idle event takes no gpn/],
      ['{"t":1,"vm":0,"op":"balloon"}', /line 2: target: missing: a balloon event needs a target/],
      ['{"t":1,"vm":0,"op":"balloon","target":257}', /line 2: pages: a balloon target must be 0\.\.256 pages for VM "vm1"/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1', /line 2: expected "," or "}" after the gpn field, found end of line/],
      ['{"t":1,"vm":0,"op":"touch","gpn":1} {}', /line 2: unexpected text after the event object/],
      ['["t",1]', /line 2: expected a JSON object per line/],
      ['{"t":1,"vm":"vm\u0001","op":"touch","gpn":1}', /line 2: vm: control character 0x1 in a string/],
      [HEADER, /line 2: a header line .* is only allowed as the first line/],
    ];
    for (const [line, message] of cases) {
      expect(await readError([HEADER, line]), line).toMatch(message);
    }
    expect(await readError([HEADER, '{"t":2,"vm":0,"op":"touch","gpn":1}', "", '{"t":1,"vm":0,"op":"touch","gpn":1}'])).toMatch(
      /line 4: time: events must not go back in time: 1 s after 2 s/,
    );
  });

  it("checks the header line", async () => {
    const cases: [string, RegExp][] = [
      ['{"overcommit":"trace","version":2,"vms":[{"name":"a","pages":1}]}', /line 1: header: version: expected 1, found 2/],
      ['{"overcommit":"tracer","version":1,"vms":[{"name":"a","pages":1}]}', /header: overcommit: expected "trace", found "tracer"/],
      ['{"overcommit":"trace","version":1,"vms":[{"name":"a","pages":1}],"x":1}', /header: unknown field "x"/],
      ['{"overcommit":"trace","version":1,"vms":[{"name":"a","memoryMiB":1.001}]}', /header: vms\[0\]\.memoryMiB: expected a positive multiple of 1\/256 MiB/],
      ['{"overcommit":"trace","version":1,"vms":[{"name":"a","pages":1,"memoryMiB":1}]}', /header: vms\[0\]: give memoryMiB or pages, not both/],
      ['{"overcommit":"trace","version":1,"vms":[{"name":"a"}]}', /header: vms\[0\]: expected memoryMiB or pages/],
      ['{"overcommit":"trace","version":1,"vms":[{"name":"","pages":1}]}', /header: vms\[0\]\.name: expected a non-empty string/],
      ['{"overcommit":"trace","version":1,"vms":[{"name":"a","pages":1},{"name":"a","pages":2}]}', /vms\[1\]\.name: VM names must be unique, found "a" twice/],
      ['{"overcommit":"trace","version":1,"vms":[]}', /vms: expected at least one VM/],
      ['{"overcommit":"trace","version":1,"vms":', /line 1: header: not valid JSON/],
    ];
    for (const [header, message] of cases) expect(await readError([header]), header).toMatch(message);
  });

  it("limits line length with an error that names the line", async () => {
    const long = `{"t":1,"vm":0,"op":"touch","gpn":1,"pad":"${"x".repeat(MAX_LINE_BYTES)}"}`;
    expect(await readError([HEADER, '{"t":0,"vm":0,"op":"touch","gpn":1}', long])).toMatch(/line 3: line too long: expected at most 65536 bytes per line/);
    expect(await readError([long], { vms: [{ name: "a", pages: 4 }] })).toMatch(/line 1: line too long/);
  });

  it("writes a header line, then one line per event: names, hex seeds, base64 bytes, exact times", async () => {
    const path = join(dir, "written.jsonl");
    const writer = new JsonlTraceWriter(path, { vms: [{ name: "vm1", pages: 256 }, { name: 'odd "name"', pages: 16 }] });
    writer.writeEvent(0, 0, TraceOp.touch, 3, 1);
    writer.writeEvent(1005, 1, TraceOp.write, 2, 3, 0xcafebabe, 0xdeadbeef);
    writer.writeEvent(1005, 1, TraceOp.write, 0, 1, 5, 0);
    writer.writeEvent(2000.5, 0, TraceOp.writeBytes, 7, 1, 0, 0, page);
    writer.writeEvent(3000, 1, TraceOp.balloon, 0, 8);
    writer.writeEvent(3010, 0, TraceOp.idle, 0, 0);
    writer.writeEvent(1e15, 1, TraceOp.io, 4, 2);
    writer.close();
    expect(writer.eventsWritten).toBe(7);
    expect(readFileSync(path, "utf8").split("\n")).toEqual([
      '{"overcommit":"trace","version":1,"vms":[{"name":"vm1","pages":256},{"name":"odd \\"name\\"","pages":16}]}',
      '{"t":0,"vm":"vm1","op":"touch","gpn":3}',
      '{"t":1.005,"vm":"odd \\"name\\"","op":"write","gpn":2,"pages":3,"seed":"0xdeadbeefcafebabe"}',
      '{"t":1.005,"vm":"odd \\"name\\"","op":"write","gpn":0,"seed":"0x5"}',
      `{"t":2.0005,"vm":"vm1","op":"write","gpn":7,"bytes":"${PAGE64}"}`,
      '{"t":3,"vm":"odd \\"name\\"","op":"balloon","target":8}',
      '{"t":3.01,"vm":"vm1","op":"idle"}',
      '{"t":1000000000000,"vm":"odd \\"name\\"","op":"io","gpn":4,"pages":2}',
      "",
    ]);
    expect(await events(await openJsonlTrace(path))).toEqual([
      { t: 0, vm: 0, op: "touch", gpn: 3, pages: 1, seed: "0" },
      { t: 1005, vm: 1, op: "write", gpn: 2, pages: 3, seed: "deadbeefcafebabe" },
      { t: 1005, vm: 1, op: "write", gpn: 0, pages: 1, seed: "5" },
      { t: 2000.5, vm: 0, op: "writeBytes", gpn: 7, pages: 1, seed: "0", bytes: PAGE64 },
      { t: 3000, vm: 1, op: "balloon", gpn: 0, pages: 8, seed: "0" },
      { t: 3010, vm: 0, op: "idle", gpn: 0, pages: 0, seed: "0" },
      { t: 1e15, vm: 1, op: "io", gpn: 4, pages: 2, seed: "0" },
    ]);
    expect(() => writer.writeEvent(0, 5, TraceOp.touch, 0, 1)).toThrow(RangeError);
  });

  it("streams a large file in chunks with nothing per event kept", async () => {
    const path = join(dir, "large.jsonl");
    const writer = new JsonlTraceWriter(path, { vms: [{ name: "a", pages: 65536 }] });
    const n = 200_000;
    for (let i = 0; i < n; i++) writer.writeEvent(i, 0, i % 3 === 0 ? TraceOp.write : TraceOp.touch, (i * 7919) % 65536, 1, i, i >>> 3);
    writer.close();
    const source = await openJsonlTrace(path, { chunkEvents: 4096 });
    let count = 0;
    let chunks = 0;
    let sum = 0;
    for await (const chunk of source.chunks()) {
      chunks++;
      count += chunk.count;
      for (let i = 0; i < chunk.count; i++) sum += (chunk.gpn[i] ?? 0) + (chunk.argLow[i] ?? 0);
    }
    expect(count).toBe(n);
    expect(chunks).toBe(Math.ceil(n / 4096));
    let expected = 0;
    for (let i = 0; i < n; i++) expected += ((i * 7919) % 65536) + (i % 3 === 0 ? i : 0);
    expect(sum).toBe(expected);
    expect(source.bytesRead).toBe(source.totalBytes);
  });
});
