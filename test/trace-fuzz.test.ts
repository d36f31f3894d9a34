// Fuzzing every trace reader (binary, JSONL, lackey, fingerprints; forced and detected): random
// bytes, random lines built from each format's own tokens, and mutations of valid files
// (truncation, flipped bytes, deleted and duplicated lines). Each case must end in a
// TraceFormatError or read a valid trace: never another exception, never a hang (inputs are
// bounded and each case has a time limit), never a wrong silent result (every event read passes
// a fresh EventValidator; a truncated binary trace says "truncated" or reads a prefix of the
// original at a record boundary).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinaryTraceWriter } from "../src/trace/binary.ts";
import { EventValidator, TraceFormatError, TraceOp, type TraceHeader } from "../src/trace/events.ts";
import { generateTrace } from "../src/trace/generate.ts";
import { JsonlTraceWriter } from "../src/trace/jsonl.ts";
import { openTrace, type FileTraceFormat, type OpenTraceOptions } from "../src/trace/open.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CASE = join(dir, "case");

/** Per case: at most this long (a hang fails the property), inputs of at most a few KiB. */
const CASE_MS = 5000;
const RUNS = 120;

const OPTIONS: OpenTraceOptions = {
  jsonlVms: [{ name: "vm1", pages: 64 }, { name: "b", pages: 8 }],
  lackey: { vmPages: 24, rate: 1000 },
  chunkEvents: 32,
};

interface Event {
  t: number;
  vm: number;
  op: number;
  gpn: number;
  pages: number;
  low: number;
  high: number;
  bytes: number;
}

type Outcome = { ok: true; header: TraceHeader; events: Event[] } | { ok: false; error: TraceFormatError };

/** Reads the case file; any exception other than TraceFormatError escapes (and fails the test). */
async function outcome(bytes: Uint8Array, format: FileTraceFormat | undefined): Promise<Outcome> {
  writeFileSync(CASE, bytes);
  const events: Event[] = [];
  let header: TraceHeader;
  try {
    const source = await openTrace(CASE, { ...OPTIONS, ...(format ? { format } : {}) });
    header = source.header;
    for await (const chunk of source.chunks()) {
      expect(chunk.count).toBeLessThanOrEqual(chunk.capacity);
      for (let i = 0; i < chunk.count; i++) {
        events.push({
          t: chunk.timeMs[i] ?? 0,
          vm: chunk.vm[i] ?? 0,
          op: chunk.op[i] ?? 0,
          gpn: chunk.gpn[i] ?? 0,
          pages: chunk.pages[i] ?? 0,
          low: chunk.argLow[i] ?? 0,
          high: chunk.argHigh[i] ?? 0,
          bytes: chunk.bytes.get(i)?.length ?? -1,
        });
      }
    }
  } catch (error) {
    if (error instanceof TraceFormatError) {
      expect(error.message.startsWith(`${CASE}: `)).toBe(true);
      expect(error.location).not.toBe("");
      return { ok: false, error };
    }
    throw error;
  }
  // Outside the try: an invalid event must fail here, not pass as a format error.
  const validator = new EventValidator("re-check", header);
  events.forEach((e, i) => {
    validator.check(i, e.t, e.vm, e.op, e.gpn, e.pages);
    expect(e.bytes).toBe(e.op === TraceOp.writeBytes ? 4096 : -1);
  });
  return { ok: true, header, events };
}

// ---- valid files to mutate -----------------------------------------------------------------------

const valid = new Map<FileTraceFormat, Uint8Array>();

beforeAll(async () => {
  const source = generateTrace({ vms: 2, vmMiB: 0.25, events: 60, durationSec: 5, seed: 3n, workload: "phases", phaseSec: 1 });
  const page = new Uint8Array(4096).map((_, i) => (i * 5) & 0xff);
  for (const format of ["binary", "jsonl"] as const) {
    const path = join(dir, `valid.${format}`);
    const writer = format === "binary" ? new BinaryTraceWriter(path, source.header) : new JsonlTraceWriter(path, source.header);
    let first = true;
    for await (const chunk of source.chunks()) {
      for (let i = 0; i < chunk.count; i++) {
        writer.writeEvent(chunk.timeMs[i] ?? 0, chunk.vm[i] ?? 0, chunk.op[i] ?? 0, chunk.gpn[i] ?? 0, chunk.pages[i] ?? 0, chunk.argLow[i] ?? 0, chunk.argHigh[i] ?? 0);
        if (first && i === 20) {
          writer.writeEvent(chunk.timeMs[i] ?? 0, 1, TraceOp.writeBytes, 5, 1, 0, 0, page);
          writer.writeEvent(chunk.timeMs[i] ?? 0, 0, TraceOp.balloon, 0, 10);
          first = false;
        }
      }
    }
    writer.close();
    valid.set(format, new Uint8Array(readFileSync(path))); // a copy: Buffer.slice would share
  }
  valid.set(
    "lackey",
    new TextEncoder().encode(
      ["==42== Lackey", "I  0023C790,2", " L BE80199C,4", " S BE80199C,4", " M 00001FFE,4", "I  0040000C,3", " S 00402000,8", " L 7FF0000010,16", "==42== done", ""].join("\n"),
    ),
  );
  valid.set("fingerprints", new TextEncoder().encode(["# fp", "vm a 6", "vm b 3", "snapshot 0 a", "0", "0", "abc", "1", "snapshot 1.5 b", "ffffffffffffffff", "abc", "snapshot 2 a", "0", "5", ""].join("\n")));
});

// ---- generators ----------------------------------------------------------------------------------

const FORMATS: readonly (FileTraceFormat | undefined)[] = ["binary", "jsonl", "lackey", "fingerprints", undefined];

const TOKENS: Record<"jsonl" | "lackey" | "fingerprints", readonly string[]> = {
  jsonl: [
    "{", "}", "[", "]", ",", ":", " ", "\n", "\r\n", '"', "\\", "\\u00", "#",
    '"t"', '"vm"', '"op"', '"gpn"', '"pages"', '"range"', '"seed"', '"bytes"', '"target"', '"overcommit"', '"version"', '"vms"',
    '"touch"', '"read"', '"write"', '"alloc"', '"free"', '"balloon"', '"idle"', '"active"', '"io"', '"trace"', '"vm1"', '"b"', '"name"', '"pages"', '"memoryMiB"',
    "0", "1", "7", "-1", "1.5", "1e3", "1e400", "0.001", "4294967295", "4294967296", "9007199254740993", "null", "true",
    '"0x"', '"0xffffffffffffffff"', '"18446744073709551616"', '"AAAA"', '"AAAA=="', '"====="',
    '{"t":1,"vm":0,"op":"touch","gpn":1}', '{"t":2,"vm":"b","op":"write","gpn":3,"seed":"0x5"}', '{"overcommit":"trace","version":1,"vms":[{"name":"vm1","pages":64}]}',
  ],
  lackey: ["I", "L", "S", "M", " ", "  ", "\t", ",", "\n", "==", "0", "1", "F", "FFF", "1000", "FFFFFFFFFFFFFFFF", "10000000000000000", "4", "4096", "65536", "65537", "0023C790", "x", "#"],
  fingerprints: ["vm", "snapshot", " ", "\t", "\n", "#", "a", "b", "zz", "0", "1", "3", "6", "0x", "abc", "ffffffffffffffff", "10000000000000000", "1.5", "-1", "1e3", "x"],
};

function tokenText(format: keyof typeof TOKENS): fc.Arbitrary<Uint8Array> {
  return fc.array(fc.constantFrom(...TOKENS[format]), { maxLength: 300 }).map((parts) => Buffer.from(parts.join("")));
}

type Mutation = { kind: "truncate"; at: number } | { kind: "flip"; at: number; value: number } | { kind: "deleteLine"; at: number } | { kind: "duplicateLine"; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("deleteLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("duplicateLine" as const), at: fc.nat() }),
);

/** A mutated copy (the input is never changed; all arrays here are plain Uint8Arrays). */
function mutate(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (bytes.length === 0) return bytes;
  const at = m.at % bytes.length;
  switch (m.kind) {
    case "truncate":
      return bytes.slice(0, at);
    case "flip": {
      const copy = bytes.slice();
      copy[at] = (copy[at] ?? 0) ^ m.value;
      return copy;
    }
    default: {
      const lines = Buffer.from(bytes).toString("latin1").split("\n");
      const i = m.at % lines.length;
      if (m.kind === "deleteLine") lines.splice(i, 1);
      else lines.splice(i, 0, lines[i] ?? "");
      return new Uint8Array(Buffer.from(lines.join("\n"), "latin1"));
    }
  }
}

// ---- properties ----------------------------------------------------------------------------------

describe("fuzzing the trace readers", () => {
  it("random bytes: a TraceFormatError or a valid trace, whatever the reader", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...FORMATS), fc.uint8Array({ maxLength: 3000 }), async (format, bytes) => {
        await outcome(bytes, format);
      }),
      { seed: 101, numRuns: RUNS * 2, timeout: CASE_MS },
    );
  });

  it("random bytes after a valid beginning (a binary header, a JSONL header, vm lines)", async () => {
    const starts: [FileTraceFormat, Uint8Array][] = [
      ["binary", (valid.get("binary") ?? new Uint8Array()).subarray(0, 56)],
      ["jsonl", Buffer.from('{"overcommit":"trace","version":1,"vms":[{"name":"vm1","pages":64}]}\n')],
      ["fingerprints", Buffer.from("vm a 6\nsnapshot 0 a\n")],
      ["lackey", Buffer.from("==1== Lackey\nI  0023C790,2\n")],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...starts), fc.uint8Array({ maxLength: 2000 }), fc.boolean(), async ([format, start], tail, forced) => {
        const bytes = Buffer.concat([start, tail]);
        await outcome(bytes, forced ? format : undefined);
      }),
      { seed: 102, numRuns: RUNS * 2, timeout: CASE_MS },
    );
  });

  for (const format of ["jsonl", "lackey", "fingerprints"] as const) {
    it(`random ${format} made of its own tokens`, async () => {
      await fc.assert(
        fc.asyncProperty(tokenText(format), fc.boolean(), async (bytes, forced) => {
          await outcome(bytes, forced ? format : undefined);
        }),
        { seed: 103, numRuns: RUNS * 2, timeout: CASE_MS },
      );
    });
  }

  for (const format of ["binary", "jsonl", "lackey", "fingerprints"] as const) {
    it(`mutations of a valid ${format} trace: truncated, flipped, lines deleted or duplicated`, async () => {
      const original = valid.get(format) ?? new Uint8Array();
      const base = await outcome(original, format);
      expect(base.ok).toBe(true);
      await fc.assert(
        fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (mutations, forced) => {
          const bytes = mutations.reduce(mutate, original);
          const result = await outcome(bytes, forced ? format : undefined);
          if (format === "binary" && forced && mutations.length === 1 && mutations[0]?.kind === "truncate" && base.ok) {
            // A cut binary trace says so, or (cut at a record boundary) reads a prefix of the original.
            if (result.ok) expect(base.events.slice(0, result.events.length)).toEqual(result.events);
            else expect(result.error.message).toContain("truncated");
          }
        }),
        { seed: 104, numRuns: RUNS * 2, timeout: CASE_MS },
      );
    });
  }

  it("every truncation of a valid binary trace: 'truncated', or a prefix at a record boundary", async () => {
    const original = valid.get("binary") ?? new Uint8Array();
    const base = await outcome(original, "binary");
    if (!base.ok) throw base.error;
    let prefixes = 0;
    for (let at = 0; at < original.length; at += at < 120 ? 1 : 11) {
      const result = await outcome(original.subarray(0, at), "binary");
      if (result.ok) {
        prefixes++;
        expect(base.events.slice(0, result.events.length)).toEqual(result.events);
      } else {
        expect(result.error.message).toContain("truncated");
      }
    }
    expect(prefixes).toBeGreaterThan(0);
  });
});
