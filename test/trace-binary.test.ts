// The binary trace format v1 (src/trace/binary.ts): what the writer writes reads back exactly,
// across chunk and read-block boundaries, and every kind of damage ends in a TraceFormatError
// that gives the byte offset, the field, what was expected and what was found.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BINARY_MAGIC, BYTES_SLOTS, BinaryTraceWriter, RECORD_BYTES, encodeHeader, openBinaryTrace, readBinaryHeader } from "../src/trace/binary.ts";
import { TraceFormatError, TraceOp, type TraceHeader, type TraceSource } from "../src/trace/events.ts";
import { detectFormat, openTrace } from "../src/trace/open.ts";
import { readTraceEvents } from "./helpers/trace-events.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-binary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

function path(): string {
  return join(dir, `b${fileCount++}.bin`);
}

interface Event {
  t: number;
  vm: number;
  op: string;
  gpn: number;
  pages: number;
  seed: bigint;
  bytes?: number[];
}

async function events(source: TraceSource): Promise<Event[]> {
  return (await readTraceEvents(source)).map(({ bytes, ...event }) => ({ ...event, ...(bytes ? { bytes: [bytes[0] ?? 0, bytes[4095] ?? 0, bytes.length] } : {}) }));
}

const HEADER: TraceHeader = { vms: [{ name: "vm1", pages: 256 }, { name: "bäse", pages: 16 }] };
const page = new Uint8Array(4096).map((_, i) => (i * 13 + 1) & 0xff);

/** A small valid trace: every op, a writeBytes in the middle. */
function sample(): string {
  const file = path();
  const writer = new BinaryTraceWriter(file, HEADER);
  writer.writeEvent(0, 0, TraceOp.touch, 3, 1);
  writer.writeEvent(10, 1, TraceOp.write, 2, 3, 0xcafebabe, 0xdeadbeef);
  writer.writeEvent(20, 0, TraceOp.writeBytes, 7, 1, 0, 0, page);
  writer.writeEvent(30, 1, TraceOp.alloc, 0, 16);
  writer.writeEvent(30, 1, TraceOp.free, 0, 16);
  writer.writeEvent(40, 1, TraceOp.balloon, 0, 8);
  writer.writeEvent(50, 0, TraceOp.idle, 0, 0);
  writer.writeEvent(60, 0, TraceOp.active, 0, 0);
  writer.writeEvent(70, 1, TraceOp.io, 4, 2);
  writer.close();
  return file;
}

const SAMPLE_EVENTS: Event[] = [
  { t: 0, vm: 0, op: "touch", gpn: 3, pages: 1, seed: 0n },
  { t: 10, vm: 1, op: "write", gpn: 2, pages: 3, seed: 0xdeadbeefcafebaben },
  { t: 20, vm: 0, op: "writeBytes", gpn: 7, pages: 1, seed: 0n, bytes: [1, page[4095] ?? 0, 4096] },
  { t: 30, vm: 1, op: "alloc", gpn: 0, pages: 16, seed: 0n },
  { t: 30, vm: 1, op: "free", gpn: 0, pages: 16, seed: 0n },
  { t: 40, vm: 1, op: "balloon", gpn: 0, pages: 8, seed: 0n },
  { t: 50, vm: 0, op: "idle", gpn: 0, pages: 0, seed: 0n },
  { t: 60, vm: 0, op: "active", gpn: 0, pages: 0, seed: 0n },
  { t: 70, vm: 1, op: "io", gpn: 4, pages: 2, seed: 0n },
];

/** A copy of `file` changed by `edit`, as a new file. */
function patched(file: string, edit: (bytes: Uint8Array, view: DataView) => Uint8Array | void): string {
  const bytes = new Uint8Array(readFileSync(file));
  const out = edit(bytes, new DataView(bytes.buffer)) ?? bytes;
  const copy = path();
  writeFileSync(copy, out);
  return copy;
}

async function failure(file: string): Promise<string> {
  try {
    await events(await openBinaryTrace(file));
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFormatError);
    return (error as Error).message;
  }
  throw new Error("expected a TraceFormatError");
}

describe("binary traces", () => {
  it("read back exactly what was written, whatever the chunk size", async () => {
    const file = sample();
    expect(await detectFormat(file)).toBe("binary");
    const header = encodeHeader(HEADER);
    expect(header.length % 8).toBe(0);
    expect(new TextDecoder().decode(header.subarray(0, 8))).toBe(BINARY_MAGIC);
    expect(readFileSync(file).length).toBe(header.length + 9 * RECORD_BYTES + BYTES_SLOTS * RECORD_BYTES);
    for (const chunkEvents of [1, 2, 5, 65536]) {
      const source = await openBinaryTrace(file, chunkEvents);
      expect(source.header).toEqual(HEADER);
      expect(await events(source)).toEqual(SAMPLE_EVENTS);
      expect(source.bytesRead).toBe(source.totalBytes);
    }
    expect((await openTrace(file)).format).toBe("binary");
  });

  it("streams across read blocks: 200,000 events with page data among them", async () => {
    const file = path();
    const writer = new BinaryTraceWriter(file, { vms: [{ name: "a", pages: 1 << 16 }] });
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      if (i % 9973 === 0) writer.writeEvent(i, 0, TraceOp.writeBytes, i % 65536, 1, 0, 0, page);
      else writer.writeEvent(i, 0, TraceOp.write, i % 65536, 1, i, 7);
    }
    writer.close();
    let count = 0;
    let withBytes = 0;
    let sum = 0;
    for await (const chunk of (await openBinaryTrace(file, 4096)).chunks()) {
      count += chunk.count;
      withBytes += chunk.bytes.size;
      for (let i = 0; i < chunk.count; i++) sum += (chunk.timeMs[i] ?? 0) - (chunk.gpn[i] ?? 0) + (chunk.argLow[i] ?? 0);
      for (const bytes of chunk.bytes.values()) expect(bytes[100]).toBe(page[100]);
    }
    expect(count).toBe(n);
    expect(withBytes).toBe(Math.ceil(n / 9973));
    let expected = 0;
    for (let i = 0; i < n; i++) expected += i - (i % 65536) + (i % 9973 === 0 ? 0 : i);
    expect(sum).toBe(expected);
  });

  it("rejects a damaged header: magic, version, record size, sizes, VM table", async () => {
    const file = sample();
    const cases: [(b: Uint8Array, v: DataView) => Uint8Array | void, RegExp][] = [
      [(b) => b.subarray(0, 10), /byte offset 0: truncated header: expected 24 bytes, found 10/],
      [(b) => void b.set([0x58], 0), /byte offset 0: magic: expected "OVCTRACE", found "XVCTRACE" \(not a binary trace\)/],
      [(_, v) => v.setUint16(8, 2, true), /byte offset 8: version: expected 1, found 2/],
      [(_, v) => v.setUint16(10, 16, true), /byte offset 10: record size: expected 24, found 16/],
      [(_, v) => v.setUint32(12, 13, true), /byte offset 12: header size: expected a multiple of 8/],
      [(_, v) => v.setUint32(16, 1000, true), /byte offset 16: VM count: 1000 VMs do not fit a header of/],
      [(b) => b.subarray(0, 30), /truncated VM table/],
      [(_, v) => v.setUint32(24, 0, true), /byte offset 24 \(VM 0\): VM pages: expected at least 1, found 0 for "vm1"/],
      [(_, v) => v.setUint16(28, 60000, true), /byte offset 24 \(VM 0\): VM name: 60000 bytes run past the header/],
      [(b) => void b.set([0xff], 30), /VM name: expected UTF-8 text/],
    ];
    for (const [edit, message] of cases) expect(await failure(patched(file, edit))).toMatch(message);
    await expect(readBinaryHeader(join(dir, "missing.bin"))).rejects.toThrow(/missing\.bin: open: /);
  });

  it("rejects damaged records: truncation, flags, and what EventValidator checks", async () => {
    const file = sample();
    const headerBytes = encodeHeader(HEADER).length;
    const record = (k: number): number => headerBytes + k * RECORD_BYTES;
    const size = readFileSync(file).length;
    const cases: [(b: Uint8Array, v: DataView) => Uint8Array | void, RegExp][] = [
      [(b) => b.subarray(0, size - 5), /truncated: the file ends 19 bytes into record/],
      [(b) => b.subarray(0, record(2) + RECORD_BYTES + 100), /truncated: a writeBytes record needs 4096 bytes of page data after it, found 100/],
      [(b) => void b.set([1], record(0) + 7), /record 0\): flags: expected 0, found 1/],
      [(_, v) => v.setUint32(record(0), 100, true), /record 1\): time: events must not go back in time: 0\.01 s after 0\.1 s/],
      [(_, v) => v.setUint16(record(0) + 4, 2, true), /record 0\): vm: expected a VM of the trace \(0\.\.1: vm1, bäse\), found 2/],
      [(b) => void b.set([0], record(0) + 6), /record 0\): op: expected one of touch, .* found code 0/],
      [(b) => void b.set([10], record(0) + 6), /found code 10/],
      [(_, v) => v.setUint32(record(0) + 8, 256, true), /record 0\): gpn: pages 256\.\.256 are outside VM "vm1"/],
      [(_, v) => v.setUint32(record(1) + 12, 0, true), /record 1\): pages: expected a positive page count, found 0/],
      [(_, v) => v.setUint32(record(2) + 12, 2, true), /pages: a writeBytes event writes exactly one page, found 2/],
    ];
    for (const [edit, message] of cases) expect(await failure(patched(file, edit)), String(message)).toMatch(message);
  });

  it("refuses to write what the format cannot hold", () => {
    const writer = new BinaryTraceWriter(path(), HEADER);
    expect(() => writer.writeEvent(2 ** 32, 0, TraceOp.touch, 0, 1)).toThrow(/does not fit the binary format's u32 milliseconds/);
    expect(() => writer.writeEvent(0, 0, TraceOp.writeBytes, 0, 1, 0, 0, new Uint8Array(10))).toThrow(/expected 4096 bytes/);
    writer.close();
  });
});
