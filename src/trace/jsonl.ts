// JSON Lines event traces: one JSON object per line, written and read as a stream (constant
// memory whatever the file's size). Also home of the line-oriented reading the text formats share
// (lackey.ts and fingerprints.ts import LineReader and scanNumber from here).
//
// Format (docs/traces.md has examples):
//
//   Lines are UTF-8 and end with "\n" (a "\r" before it is ignored). Blank lines and lines whose
//   first non-blank character is "#" are skipped anywhere. A line may be at most 64 KiB (a write
//   with a whole base64 page is about 5.5 KiB); the header line may be up to 64 MiB.
//
//   Header (optional), the first line that is not blank or a comment:
//     {"overcommit":"trace","version":1,"vms":[{"name":"vm1","memoryMiB":1024},{"name":"db","pages":65536}]}
//   Each VM gives its size as memoryMiB (a multiple of 1/256: whole 4 KiB pages) or pages; names
//   are unique and non-empty, at most 65,535 VMs. Without a header the reader must be given the VM
//   table (OpenJsonlOptions.vms, `--jsonl-vms vm1:1024,db:256` on the command line); when the
//   file has a header, it wins and the given table is not used.
//
//   Events, one per line, in time order:
//     {"t":12.5,"vm":"vm1","op":"touch","gpn":100}
//     {"t":12.5,"vm":0,"op":"write","gpn":100,"pages":4,"seed":"0x9e3779b97f4a7c15"}
//     {"t":13,"vm":"vm1","op":"write","gpn":7,"bytes":"<base64 of exactly 4096 bytes>"}
//     {"t":14,"vm":"vm1","op":"free","range":[100,163]}
//     {"t":15,"vm":"vm1","op":"balloon","target":2048}
//     {"t":16,"vm":"vm1","op":"idle"}
//   t       seconds of simulated time (a JSON number >= 0, non-decreasing). Read exactly: the
//           decimal is scaled to milliseconds before rounding, so "t":1.005 is 1005 ms, and a
//           written trace reads back to the same millisecond values bit for bit.
//   vm      a VM name of the table, or its 0-based index.
//   op      touch | read (same as touch) | write | alloc | free | io   (page events)
//           balloon | idle | active                                   (VM events)
//   gpn     first guest page; with "pages" (default 1) the event covers [gpn, gpn + pages).
//   range   [first, last], inclusive: the same as gpn = first, pages = last - first + 1.
//           Page events need gpn or range (not both; no pages with range).
//   seed    write only: the pages' new 64-bit content seed, as a decimal string ("123"), a hex
//           string ("0x7b"), or a JSON number that is a safe integer (<= 2^53 - 1). 0 is the zero
//           page; identical seeds give identical bytes.
//   bytes   write only, instead of seed: base64 (standard alphabet, "=" padding optional) of
//           exactly 4096 bytes, the one page's new content (a writeBytes event; pages must be 1).
//   target  balloon only: the VM's balloon target in pages (0: back to the host's policy).
//   Any other field, a field twice, or a field an op does not take (seed on a touch, gpn on
//   idle) is an error. Errors are TraceFormatError "<file>: line N: <field>: expected ..., found ...".
//
// The writer writes the header, then one line per event: names for VMs (indices when a name's
// JSON is over 200 bytes), seeds as hex strings, page bytes as base64, "pages" only when not 1,
// times as the shortest decimal that reads back exactly.
//
// Reading is byte-level, without JSON.parse or a string per line: the line's bytes are parsed in
// place (a hand-written parser for the event object's grammar, strict JSON), names are matched as
// bytes against the VM table, and errors build their text only when they are thrown.
import { BlockFileWriter } from "./file-writer.ts";
import { open, type FileHandle } from "node:fs/promises";
import { EventValidator, TraceChunk, TraceFormatError, TraceOp, type TraceHeader, type TraceOpCode, type TraceSource, type TraceVm } from "./events.ts";

export const PAGE_BYTES = 4096;
/** Longest event line the text readers accept. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Longest JSONL header line (65,535 VMs with long names fit). */
export const MAX_HEADER_LINE_BYTES = 64 * 1024 * 1024;
const READ_BLOCK_BYTES = 1 << 20;
const MAX_VMS = 65535;
const MAX_U32 = 0xffffffff;

// ---- lines ----------------------------------------------------------------------------------

/** Opens a file for reading, turning a failure into a TraceFormatError. */
export async function openForReading(path: string): Promise<FileHandle> {
  return open(path, "r").catch((cause: unknown) => {
    throw new TraceFormatError(path, "open", cause instanceof Error ? cause.message : String(cause));
  });
}

/**
 * A file's lines, read in large blocks. `next()` (synchronous) makes the next complete line the
 * current one, `[lineStart, lineEnd)` of `bytes` (no "\n", no trailing "\r"), numbered `line`
 * (1-based); when it returns false, `fill()` (asynchronous) reads more, and returns false at the
 * end of the file. No string and no object per line. A UTF-8 byte order mark at the start of the
 * file is skipped.
 */
export class LineReader {
  private buf: Buffer;
  private pos = 0;
  private end = 0;
  private base: number;
  private eof = false;
  lineStart = 0;
  lineEnd = 0;
  /** Number of the current line (1-based). */
  line: number;
  /** File offset of the current line's first byte. */
  lineOffset = 0;

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
    startOffset: number,
    startLine: number,
    /** Longest line accepted; may be changed between lines (the buffer grows as needed). */
    public maxLineBytes: number,
  ) {
    this.base = startOffset;
    this.line = startLine;
    this.buf = Buffer.allocUnsafe(READ_BLOCK_BYTES);
  }

  /** Opens `path` to read lines from byte `startOffset`, numbering the first `startLine + 1`. */
  static async open(path: string, startOffset = 0, startLine = 0, maxLineBytes = MAX_LINE_BYTES): Promise<LineReader> {
    return new LineReader(await openForReading(path), path, startOffset, startLine, maxLineBytes);
  }

  /** The buffer the current line is in (it may change at `fill()`). */
  get bytes(): Buffer {
    return this.buf;
  }

  /** File offset just after the current line (bytes consumed). */
  get offset(): number {
    return this.base + this.pos;
  }

  next(): boolean {
    const b = this.buf;
    const pos = this.pos;
    const end = this.end;
    if (pos >= end) return false;
    let nl = b.indexOf(10, pos);
    if (nl >= end) nl = -1;
    let lineEnd: number;
    let nextPos: number;
    if (nl >= 0) {
      lineEnd = nl;
      nextPos = nl + 1;
    } else if (this.eof) {
      lineEnd = end;
      nextPos = end;
    } else {
      if (end - pos > this.maxLineBytes + 1) this.tooLong();
      return false;
    }
    if (lineEnd > pos && b[lineEnd - 1] === 13) lineEnd--;
    if (lineEnd - pos > this.maxLineBytes) this.tooLong();
    this.line++;
    this.lineOffset = this.base + pos;
    this.lineStart = pos;
    this.lineEnd = lineEnd;
    this.pos = nextPos;
    return true;
  }

  private tooLong(): never {
    throw new TraceFormatError(
      this.path,
      `line ${this.line + 1}`,
      `line too long: expected at most ${this.maxLineBytes} bytes per line, found more (no line break within ${this.maxLineBytes} bytes)`,
    );
  }

  /** Reads more of the file; false when every line has been returned. */
  async fill(): Promise<boolean> {
    if (this.eof) return this.pos < this.end;
    const keep = this.end - this.pos;
    if (keep > this.buf.length / 2) {
      // A long line (up to maxLineBytes, which next() enforces): room for it and more.
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, this.pos, this.end);
      this.buf = bigger;
    } else if (keep > 0 && this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    const first = this.base === 0 && this.end === 0;
    this.base += this.pos;
    this.pos = 0;
    this.end = keep;
    while (this.end < this.buf.length) {
      const { bytesRead } = await this.file.read(this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      if (bytesRead === 0) {
        this.eof = true;
        break;
      }
      this.end += bytesRead;
      if (this.end >= READ_BLOCK_BYTES / 2) break;
    }
    if (first && this.end >= 3 && this.buf[0] === 0xef && this.buf[1] === 0xbb && this.buf[2] === 0xbf) this.pos = 3;
    return this.pos < this.end;
  }

  /** The file's size in bytes. */
  async size(): Promise<number> {
    return (await this.file.stat()).size;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** True if bytes [start, end) are blank (spaces, tabs) or a comment (first non-blank is "#"). */
export function isBlankOrComment(b: Uint8Array, start: number, end: number): boolean {
  let p = start;
  while (p < end && (b[p] === 0x20 || b[p] === 0x09)) p++;
  return p === end || b[p] === 0x23;
}

/** Up to `max` characters of bytes [start, end) as text, for error messages ("end of line" if empty). */
export function quoteBytes(b: Uint8Array, start: number, end: number, max = 40): string {
  if (start >= end) return "end of line";
  const text = new TextDecoder().decode(b.subarray(start, Math.min(end, start + max * 4)));
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}...` : text);
}

// ---- numbers --------------------------------------------------------------------------------

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const TWO_53 = 9007199254740992;

/** The value of the last successful scanNumber. */
export let scannedNumber = 0;

/**
 * Scans a JSON number at `p` (strict grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) and sets
 * `scannedNumber` to its value times 10^shift, correctly rounded (the decimal is scaled before
 * rounding: "1.005" with shift 3 is exactly 1005). Returns the position after it, or -1 if there
 * is no number at `p`. Does not look at what follows.
 */
export function scanNumber(b: Uint8Array, p: number, end: number, shift: number): number {
  const start = p;
  let c = p < end ? (b[p] as number) : -1;
  if (c === 0x2d) {
    p++;
    c = p < end ? (b[p] as number) : -1;
  }
  let mant = 0;
  let exp = 0;
  const intStart = p;
  if (c === 0x30) {
    p++;
  } else if (c >= 0x31 && c <= 0x39) {
    while (p < end) {
      c = b[p] as number;
      if (c < 0x30 || c > 0x39) break;
      mant = mant * 10 + (c - 0x30);
      p++;
    }
  } else {
    return -1;
  }
  const intEnd = p;
  let fracStart = p;
  let fracEnd = p;
  if (p < end && b[p] === 0x2e) {
    p++;
    fracStart = p;
    while (p < end) {
      c = b[p] as number;
      if (c < 0x30 || c > 0x39) break;
      mant = mant * 10 + (c - 0x30);
      p++;
    }
    if (p === fracStart) return -1;
    fracEnd = p;
    exp = fracStart - fracEnd;
  }
  if (p < end && ((b[p] as number) | 0x20) === 0x65) {
    p++;
    let negative = false;
    if (p < end && (b[p] === 0x2b || b[p] === 0x2d)) {
      negative = b[p] === 0x2d;
      p++;
    }
    const expStart = p;
    let e = 0;
    while (p < end) {
      c = b[p] as number;
      if (c < 0x30 || c > 0x39) break;
      if (e < 1e7) e = e * 10 + (c - 0x30);
      p++;
    }
    if (p === expStart) return -1;
    exp += negative ? -e : e;
  }
  const k = exp + shift;
  let value: number;
  if (mant <= TWO_53 && k >= -22 && k <= 22) {
    // Both operands are exact, so one IEEE multiply or divide rounds correctly (Clinger).
    value = k >= 0 ? mant * (POW10[k] as number) : mant / (POW10[-k] as number);
  } else {
    const latin1 = (from: number, to: number): string => Buffer.from(b.buffer, b.byteOffset + from, to - from).toString("latin1");
    value = Number(`${latin1(intStart, intEnd)}${latin1(fracStart, fracEnd)}e${k}`);
  }
  scannedNumber = b[start] === 0x2d ? -value + 0 : value;
  return p;
}

/** Seconds (a number) to the shortest decimal text that scanNumber(…, 3) reads back as `ms` exactly. */
export function formatSecondsOfMs(ms: number): string {
  if (Number.isInteger(ms) && ms >= 0 && ms <= Number.MAX_SAFE_INTEGER) {
    const whole = Math.floor(ms / 1000);
    const frac = ms - whole * 1000;
    if (frac === 0) return String(whole);
    return `${whole}.${String(frac).padStart(3, "0").replace(/0+$/, "")}`;
  }
  const text = String(ms);
  const e = text.indexOf("e");
  if (e >= 0) return `${text.slice(0, e)}e${Number(text.slice(e + 1)) - 3}`;
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf(".");
  const intPart = dot >= 0 ? body.slice(0, dot) : body;
  const digits = intPart + (dot >= 0 ? body.slice(dot + 1) : "");
  const point = intPart.length - 3;
  let out = point <= 0 ? `0.${"0".repeat(-point)}${digits}` : `${digits.slice(0, point)}.${digits.slice(point)}`;
  out = out.replace(/0+$/, "").replace(/\.$/, "");
  if (out.includes(".")) out = out.replace(/^0+(?=\d)/, "");
  return (negative ? "-" : "") + out;
}

// ---- the VM table ---------------------------------------------------------------------------

/** Checks a VM table (from a header or an option); throws a TraceFormatError naming the problem. */
export function checkVmTable(path: string, location: string, vms: readonly TraceVm[]): TraceHeader {
  if (vms.length === 0) throw new TraceFormatError(path, location, "vms: expected at least one VM, found none");
  if (vms.length > MAX_VMS) throw new TraceFormatError(path, location, `vms: expected at most ${MAX_VMS} VMs, found ${vms.length}`);
  const seen = new Set<string>();
  const encoder = new TextEncoder();
  vms.forEach((vm, i) => {
    if (typeof vm.name !== "string" || vm.name.length === 0) throw new TraceFormatError(path, location, `vms[${i}].name: expected a non-empty string, found ${JSON.stringify(vm.name)}`);
    if (encoder.encode(vm.name).length > 65535) throw new TraceFormatError(path, location, `vms[${i}].name: expected at most 65535 bytes of UTF-8, found a longer name`);
    if (seen.has(vm.name)) throw new TraceFormatError(path, location, `vms[${i}].name: VM names must be unique, found "${vm.name}" twice`);
    seen.add(vm.name);
    if (!Number.isInteger(vm.pages) || vm.pages < 1 || vm.pages > MAX_U32) {
      throw new TraceFormatError(path, location, `vms[${i}].pages: expected a whole number of 4 KiB pages from 1 to ${MAX_U32}, found ${vm.pages}`);
    }
  });
  return { vms: vms.map((vm) => ({ name: vm.name, pages: vm.pages })) };
}

function describeJson(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Reads the header object of a JSONL trace (already parsed: it is one line, read once). */
export function parseJsonlHeader(path: string, line: number, value: unknown): TraceHeader {
  const where = `line ${line}`;
  const fail = (message: string): never => {
    throw new TraceFormatError(path, where, `header: ${message}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`expected a JSON object, found ${describeJson(value)}`);
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) if (key !== "overcommit" && key !== "version" && key !== "vms") fail(`unknown field "${key}" (expected overcommit, version, vms)`);
  if (object.overcommit !== "trace") fail(`overcommit: expected "trace", found ${describeJson(object.overcommit)}`);
  if (object.version !== 1) fail(`version: expected 1, found ${describeJson(object.version)}`);
  const list = object.vms;
  if (!Array.isArray(list)) fail(`vms: expected an array of {"name":...,"memoryMiB":...} or {"name":...,"pages":...}, found ${describeJson(list)}`);
  const vms: TraceVm[] = [];
  (list as unknown[]).forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail(`vms[${i}]: expected an object, found ${describeJson(entry)}`);
    const vm = entry as Record<string, unknown>;
    for (const key of Object.keys(vm)) if (key !== "name" && key !== "memoryMiB" && key !== "pages") fail(`vms[${i}]: unknown field "${key}" (expected name, memoryMiB or pages)`);
    if (typeof vm.name !== "string" || vm.name === "") fail(`vms[${i}].name: expected a non-empty string, found ${describeJson(vm.name)}`);
    let pages: number;
    if (vm.pages !== undefined && vm.memoryMiB !== undefined) fail(`vms[${i}]: give memoryMiB or pages, not both`);
    if (vm.pages !== undefined) {
      if (typeof vm.pages !== "number" || !Number.isInteger(vm.pages) || vm.pages < 1 || vm.pages > MAX_U32) {
        fail(`vms[${i}].pages: expected a whole number of 4 KiB pages from 1 to ${MAX_U32}, found ${describeJson(vm.pages)}`);
      }
      pages = vm.pages as number;
    } else if (vm.memoryMiB !== undefined) {
      const mib = vm.memoryMiB;
      if (typeof mib !== "number" || !(mib > 0) || !Number.isInteger(mib * 256) || mib * 256 > MAX_U32) {
        fail(`vms[${i}].memoryMiB: expected a positive multiple of 1/256 MiB (whole 4 KiB pages) up to 16 TiB, found ${describeJson(mib)}`);
      }
      pages = (mib as number) * 256;
    } else {
      return fail(`vms[${i}]: expected memoryMiB or pages, found neither`);
    }
    vms.push({ name: vm.name as string, pages });
  });
  return checkVmTable(path, where, vms);
}

// ---- event lines ----------------------------------------------------------------------------

const F_T = 1;
const F_VM = 2;
const F_OP = 4;
const F_GPN = 8;
const F_PAGES = 16;
const F_RANGE = 32;
const F_SEED = 64;
const F_BYTES = 128;
const F_TARGET = 256;
const FIELD_NAMES = "t, vm, op, gpn, pages, range, seed, bytes, target";

const ASCII = (text: string): Uint8Array => new TextEncoder().encode(text);
/** Op words as bytes, with their codes (read is touch; write becomes writeBytes with bytes). */
const OP_WORD_BYTES: readonly Uint8Array[] = ["touch", "read", "write", "alloc", "free", "balloon", "idle", "active", "io"].map(ASCII);
const OP_WORD_CODES: readonly number[] = [TraceOp.touch, TraceOp.touch, TraceOp.write, TraceOp.alloc, TraceOp.free, TraceOp.balloon, TraceOp.idle, TraceOp.active, TraceOp.io];
const OP_LIST = "touch, read, write, alloc, free, balloon, idle, active, io";

function bytesEqual(a: Uint8Array, aStart: number, aEnd: number, word: Uint8Array): boolean {
  if (aEnd - aStart !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (a[aStart + i] !== word[i]) return false;
  return true;
}

function fieldOf(b: Uint8Array, s: number, e: number): number {
  const n = e - s;
  const c = b[s];
  if (n === 1) return c === 0x74 ? F_T : 0;
  if (n === 2) return c === 0x76 && b[s + 1] === 0x6d ? F_VM : c === 0x6f && b[s + 1] === 0x70 ? F_OP : 0;
  if (n === 3) return c === 0x67 && b[s + 1] === 0x70 && b[s + 2] === 0x6e ? F_GPN : 0;
  if (n === 4) return bytesEqual(b, s, e, SEED_WORD) ? F_SEED : 0;
  if (n === 5) return bytesEqual(b, s, e, PAGES_WORD) ? F_PAGES : bytesEqual(b, s, e, RANGE_WORD) ? F_RANGE : bytesEqual(b, s, e, BYTES_WORD) ? F_BYTES : 0;
  if (n === 6) return bytesEqual(b, s, e, TARGET_WORD) ? F_TARGET : 0;
  return 0;
}
const SEED_WORD = ASCII("seed");
const PAGES_WORD = ASCII("pages");
const RANGE_WORD = ASCII("range");
const BYTES_WORD = ASCII("bytes");
const TARGET_WORD = ASCII("target");

const BASE64_VALUE = (() => {
  const table = new Int8Array(256).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
})();

function isWs(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The op code of an op word, or 0. */
function opOf(b: Uint8Array, s: number, e: number): number {
  let k: number;
  switch (b[s]) {
    case 0x74: k = 0; break; // touch
    case 0x72: k = 1; break; // read
    case 0x77: k = 2; break; // write
    case 0x61: k = b[s + 1] === 0x6c ? 3 : 7; break; // alloc, active
    case 0x66: k = 4; break; // free
    case 0x62: k = 5; break; // balloon
    case 0x69: k = b[s + 1] === 0x64 ? 6 : 8; break; // idle, io
    default: return 0;
  }
  return bytesEqual(b, s, e, OP_WORD_BYTES[k] as Uint8Array) ? (OP_WORD_CODES[k] as number) : 0;
}

function fnv(b: Uint8Array, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = s; i < e; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h >>> 0;
}

/**
 * Parses one event line in place. After `parse`, the event is in the public fields. Keeps no
 * per-line objects: strings are spans of the line (or of `scratch` when they had escapes).
 */
export class JsonlEventParser {
  timeMs = 0;
  vm = 0;
  op = 0;
  gpn = 0;
  pages = 0;
  argLow = 0;
  argHigh = 0;
  bytes: Uint8Array | undefined;

  private line = 0;
  private b: Uint8Array = Buffer.alloc(0);
  private end = 0;
  private scratch: Uint8Array = Buffer.alloc(MAX_LINE_BYTES);
  /** The last string scanned: [sStart, sEnd) of sBuf. */
  private sBuf: Uint8Array = this.scratch;
  private sStart = 0;
  private sEnd = 0;
  private readonly names: readonly Uint8Array[];
  private readonly byHash = new Map<number, number[]>();

  constructor(
    private readonly path: string,
    private readonly header: TraceHeader,
  ) {
    const encoder = new TextEncoder();
    this.names = header.vms.map((vm) => Buffer.from(encoder.encode(vm.name)));
    this.names.forEach((name, i) => {
      const h = fnv(name, 0, name.length);
      const list = this.byHash.get(h);
      if (list) list.push(i);
      else this.byHash.set(h, [i]);
    });
  }

  private fail(field: string, message: string): never {
    throw new TraceFormatError(this.path, `line ${this.line}`, field ? `${field}: ${message}` : message);
  }

  /** The JSON token at p, quoted, for an error message. */
  private found(p: number): string {
    const b = this.b;
    const end = this.end;
    if (p >= end) return "end of line";
    let q = p;
    if (b[q] === 0x22) {
      q++;
      while (q < end && b[q] !== 0x22) q += b[q] === 0x5c ? 2 : 1;
      q = Math.min(end, q + 1);
    } else {
      let depth = 0;
      while (q < end) {
        const c = b[q];
        if (c === 0x5b || c === 0x7b) depth++;
        else if (c === 0x5d || c === 0x7d) {
          if (depth === 0) break;
          depth--;
        } else if (c === 0x2c && depth === 0) break;
        q++;
      }
    }
    const text = new TextDecoder().decode(b.subarray(p, Math.min(q, p + 200))).trim();
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  }

  private ws(p: number): number {
    const b = this.b;
    while (p < this.end && isWs(b[p])) p++;
    return p;
  }

  /** A JSON string at p (b[p] is '"'): sets sBuf/sStart/sEnd; returns the position after it. */
  private string(p: number, field: string): number {
    const b = this.b;
    const end = this.end;
    let q = p + 1;
    for (;;) {
      if (q >= end) this.fail(field, `unterminated string ${this.found(p)}`);
      const c = b[q] as number;
      if (c === 0x22) {
        this.sBuf = b;
        this.sStart = p + 1;
        this.sEnd = q;
        return q + 1;
      }
      if (c === 0x5c) return this.escapedString(p, field);
      if (c < 0x20) this.fail(field, `control character 0x${c.toString(16)} in a string (escape it)`);
      q++;
    }
  }

  private escapedString(p: number, field: string): number {
    const b = this.b;
    const end = this.end;
    if (this.scratch.length < end - p) this.scratch = Buffer.alloc(end - p);
    const out = this.scratch;
    let o = 0;
    let q = p + 1;
    const hex4 = (at: number): number => {
      let v = 0;
      for (let i = 0; i < 4; i++) {
        const c = at + i < end ? (b[at + i] as number) | 0x20 : 0;
        const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
        if (d < 0) this.fail(field, `bad \\u escape in string ${this.found(p)}`);
        v = v * 16 + d;
      }
      return v;
    };
    for (;;) {
      if (q >= end) this.fail(field, `unterminated string ${this.found(p)}`);
      const c = b[q] as number;
      if (c === 0x22) break;
      if (c < 0x20) this.fail(field, `control character 0x${c.toString(16)} in a string (escape it)`);
      if (c !== 0x5c) {
        out[o++] = c;
        q++;
        continue;
      }
      const e = q + 1 < end ? b[q + 1] : undefined;
      q += 2;
      switch (e) {
        case 0x22: out[o++] = 0x22; break;
        case 0x5c: out[o++] = 0x5c; break;
        case 0x2f: out[o++] = 0x2f; break;
        case 0x62: out[o++] = 0x08; break;
        case 0x66: out[o++] = 0x0c; break;
        case 0x6e: out[o++] = 0x0a; break;
        case 0x72: out[o++] = 0x0d; break;
        case 0x74: out[o++] = 0x09; break;
        case 0x75: {
          let cp = hex4(q);
          q += 4;
          if (cp >= 0xd800 && cp <= 0xdbff && b[q] === 0x5c && b[q + 1] === 0x75) {
            const low = hex4(q + 2);
            if (low >= 0xdc00 && low <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
              q += 6;
            }
          }
          if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate (as TextEncoder writes it)
          if (cp < 0x80) out[o++] = cp;
          else if (cp < 0x800) {
            out[o++] = 0xc0 | (cp >> 6);
            out[o++] = 0x80 | (cp & 63);
          } else if (cp < 0x10000) {
            out[o++] = 0xe0 | (cp >> 12);
            out[o++] = 0x80 | ((cp >> 6) & 63);
            out[o++] = 0x80 | (cp & 63);
          } else {
            out[o++] = 0xf0 | (cp >> 18);
            out[o++] = 0x80 | ((cp >> 12) & 63);
            out[o++] = 0x80 | ((cp >> 6) & 63);
            out[o++] = 0x80 | (cp & 63);
          }
          break;
        }
        default:
          this.fail(field, `bad escape in string ${this.found(p)}`);
      }
    }
    this.sBuf = out;
    this.sStart = 0;
    this.sEnd = o;
    return q + 1;
  }

  /** A number at p scaled by 10^shift into scannedNumber; returns the position after it. */
  private number(p: number, shift: number, field: string, expected: string): number {
    const q = scanNumber(this.b, p, this.end, shift);
    if (q < 0 || (q < this.end && !isWs(this.b[q]) && this.b[q] !== 0x2c && this.b[q] !== 0x7d && this.b[q] !== 0x5d)) {
      this.fail(field, `expected ${expected}, found ${this.found(p)}`);
    }
    return q;
  }

  private integer(p: number, field: string, expected: string, min: number): number {
    const q = this.number(p, 0, field, expected);
    const v = scannedNumber;
    if (!Number.isInteger(v) || v < min || v > MAX_U32) this.fail(field, `expected ${expected}, found ${this.found(p)}`);
    return q;
  }

  private vmByName(): number {
    const buf = this.sBuf;
    const s = this.sStart;
    const e = this.sEnd;
    const names = this.names;
    if (names.length <= 16) {
      for (let i = 0; i < names.length; i++) if (bytesEqual(buf, s, e, names[i] as Uint8Array)) return i;
    }
    const list = names.length <= 16 ? undefined : this.byHash.get(fnv(buf, s, e));
    if (list) {
      for (let k = 0; k < list.length; k++) {
        const i = list[k] as number;
        if (bytesEqual(buf, s, e, this.names[i] as Uint8Array)) return i;
      }
    }
    const name = new TextDecoder().decode(buf.subarray(s, e));
    const known = this.header.vms.slice(0, 5).map((vm) => vm.name).join(", ");
    return this.fail("vm", `unknown VM name ${JSON.stringify(name)} (the trace's VMs: ${known}${this.header.vms.length > 5 ? ", ..." : ""})`);
  }

  /** A seed string (decimal or 0x hex, below 2^64) from the last string. */
  private seedString(p: number): void {
    const buf = this.sBuf;
    let s = this.sStart;
    const e = this.sEnd;
    let low = 0;
    let high = 0;
    if (e - s > 2 && buf[s] === 0x30 && (buf[s + 1] === 0x78 || buf[s + 1] === 0x58)) {
      s += 2;
      let significant = 0;
      for (let i = s; i < e; i++) {
        const c = (buf[i] as number) | 0x20;
        const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1;
        if (d < 0) this.fail("seed", `expected a decimal or 0x-hex string below 2^64 (or a safe integer), found ${this.found(p)}`);
        if (significant > 0 || d !== 0) significant++;
        if (significant > 16) this.fail("seed", `out of 64-bit range: ${this.found(p)} has more than 16 hex digits`);
        high = ((high << 4) | (low >>> 28)) >>> 0;
        low = ((low << 4) | d) >>> 0;
      }
    } else {
      if (s === e) this.fail("seed", `expected a decimal or 0x-hex string below 2^64 (or a safe integer), found ""`);
      for (let i = s; i < e; i++) {
        const c = buf[i] as number;
        if (c < 0x30 || c > 0x39) this.fail("seed", `expected a decimal or 0x-hex string below 2^64 (or a safe integer), found ${this.found(p)}`);
        // (high, low) = (high, low) * 10 + digit, exact in doubles (each part stays below 2^36).
        const lowTimes = low * 10 + (c - 0x30);
        const carry = Math.floor(lowTimes / 4294967296);
        low = lowTimes - carry * 4294967296;
        high = high * 10 + carry;
        if (high > MAX_U32) this.fail("seed", `out of 64-bit range: ${this.found(p)} is 2^64 or more`);
      }
    }
    this.argLow = low;
    this.argHigh = high;
  }

  /** Base64 of exactly one page from the last string into a new page. */
  private pageBytes(): Uint8Array {
    const buf = this.sBuf;
    const s = this.sStart;
    let e = this.sEnd;
    let pad = 0;
    while (e > s && buf[e - 1] === 0x3d && pad < 2) {
      e--;
      pad++;
    }
    const chars = e - s;
    const decoded = Math.floor((chars * 6) / 8);
    if (chars % 4 === 1 || (pad > 0 && (chars + pad) % 4 !== 0)) this.fail("bytes", `expected base64 of exactly ${PAGE_BYTES} bytes, found base64 of bad length (${chars + pad} characters)`);
    if (decoded !== PAGE_BYTES) this.fail("bytes", `expected base64 of exactly ${PAGE_BYTES} bytes, found ${decoded} bytes`);
    const out = new Uint8Array(PAGE_BYTES);
    let o = 0;
    let acc = 0;
    let bits = 0;
    for (let i = s; i < e; i++) {
      const v = BASE64_VALUE[buf[i] as number] as number;
      if (v < 0) this.fail("bytes", `expected base64 (A-Z a-z 0-9 + /, "=" padding), found ${JSON.stringify(String.fromCharCode(buf[i] as number))} at character ${i - s}`);
      acc = ((acc << 6) | v) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >>> bits) & 0xff;
      }
    }
    return out;
  }

  /** Parses bytes [start, end) of `b`, line `line`; throws TraceFormatError. */
  parse(b: Uint8Array, start: number, end: number, line: number): void {
    this.b = b;
    this.end = end;
    this.line = line;
    let seen = 0;
    let t = 0;
    let vm = -1;
    let op = 0;
    let gpn = 0;
    let pages = 1;
    let rangeLast = 0;
    let target = 0;
    this.argLow = 0;
    this.argHigh = 0;
    this.bytes = undefined;
    let p = this.ws(start);
    if (b[p] !== 0x7b || p >= end) this.fail("", `expected a JSON object per line ({"t":...,"vm":...,"op":...}), found ${this.found(p)}`);
    p = this.ws(p + 1);
    if (p < end && b[p] === 0x7d) {
      p++;
    } else {
      for (;;) {
        if (p >= end || b[p] !== 0x22) this.fail("", `expected a field name in double quotes, found ${this.found(p)}`);
        const keyAt = p;
        let q = p + 1;
        while (q < end) {
          const k = b[q] as number;
          if (k === 0x22 || k === 0x5c || k < 0x20) break;
          q++;
        }
        let field: number;
        if (q < end && b[q] === 0x22) {
          field = fieldOf(b, p + 1, q);
          p = q + 1;
        } else {
          p = this.string(p, "field name");
          field = fieldOf(this.sBuf, this.sStart, this.sEnd);
        }
        if (field === 0) {
          if (this.found(keyAt) === '"overcommit"') this.fail("", "a header line ({\"overcommit\":\"trace\",...}) is only allowed as the first line");
          this.fail("", `unknown field ${this.found(keyAt)} (expected ${FIELD_NAMES})`);
        }
        if (seen & field) this.fail(this.fieldName(field), "the field appears twice");
        seen |= field;
        p = this.ws(p);
        if (p >= end || b[p] !== 0x3a) this.fail(this.fieldName(field), `expected ":" after the field name, found ${this.found(p)}`);
        p = this.ws(p + 1);
        const c = p < end ? b[p] : undefined;
        switch (field) {
          case F_T: {
            const at = p;
            p = this.number(p, 3, "t", "a number of seconds");
            t = scannedNumber;
            if (!(t >= 0) || t > Number.MAX_SAFE_INTEGER) this.fail("t", `expected a number of seconds from 0 to 9e12, found ${this.found(at)}`);
            break;
          }
          case F_VM:
            if (c === 0x22) {
              p = this.string(p, "vm");
              vm = this.vmByName();
            } else {
              const at = p;
              p = this.number(p, 0, "vm", "a VM name (string) or index (number)");
              vm = scannedNumber;
              if (!Number.isInteger(vm) || vm < 0 || vm >= this.names.length) {
                this.fail("vm", `expected a VM index 0..${this.names.length - 1} or a VM name, found ${this.found(at)}`);
              }
            }
            break;
          case F_OP: {
            if (c !== 0x22) this.fail("op", `expected one of ${OP_LIST} (a string), found ${this.found(p)}`);
            const at = p;
            p = this.string(p, "op");
            op = opOf(this.sBuf, this.sStart, this.sEnd);
            if (op === 0) this.fail("op", `expected one of ${OP_LIST}, found ${this.found(at)}`);
            break;
          }
          case F_GPN:
            p = this.integer(p, "gpn", "a page number (an integer from 0)", 0);
            gpn = scannedNumber;
            break;
          case F_PAGES:
            p = this.integer(p, "pages", "a page count (an integer from 1)", 1);
            pages = scannedNumber;
            break;
          case F_RANGE: {
            const at = p;
            if (c !== 0x5b) this.badRange(at);
            p = this.ws(p + 1);
            const q1 = scanNumber(b, p, end, 0);
            if (q1 < 0) this.badRange(at);
            gpn = scannedNumber;
            p = this.ws(q1);
            if (p >= end || b[p] !== 0x2c) this.badRange(at);
            p = this.ws(p + 1);
            const q2 = scanNumber(b, p, end, 0);
            if (q2 < 0) this.badRange(at);
            rangeLast = scannedNumber;
            p = this.ws(q2);
            if (p >= end || b[p] !== 0x5d) this.badRange(at);
            p++;
            if (!Number.isInteger(gpn) || !Number.isInteger(rangeLast) || gpn < 0 || rangeLast < gpn || rangeLast > MAX_U32) this.badRange(at);
            break;
          }
          case F_SEED:
            if (c === 0x22) {
              const at = p;
              p = this.string(p, "seed");
              this.seedString(at);
            } else {
              const at = p;
              p = this.number(p, 0, "seed", "a decimal or 0x-hex string below 2^64, or a safe integer");
              const v = scannedNumber;
              if (!Number.isSafeInteger(v) || v < 0) {
                this.fail("seed", `expected a safe integer (0..2^53-1; write larger seeds as strings, e.g. "0x..."), found ${this.found(at)}`);
              }
              this.argLow = v % 4294967296;
              this.argHigh = Math.floor(v / 4294967296);
            }
            break;
          case F_BYTES:
            if (c !== 0x22) this.fail("bytes", `expected a base64 string of ${PAGE_BYTES} bytes, found ${this.found(p)}`);
            p = this.string(p, "bytes");
            this.bytes = this.pageBytes();
            break;
          case F_TARGET:
            p = this.integer(p, "target", "a balloon target in pages (an integer from 0)", 0);
            target = scannedNumber;
            break;
        }
        p = this.ws(p);
        if (p < end && b[p] === 0x2c) {
          p = this.ws(p + 1);
          continue;
        }
        if (p < end && b[p] === 0x7d) {
          p++;
          break;
        }
        this.fail("", `expected "," or "}" after the ${this.fieldName(field)} field, found ${this.found(p)}`);
      }
    }
    p = this.ws(p);
    if (p < end) this.fail("", `unexpected text after the event object: ${this.found(p)}`);

    if (!(seen & F_T)) this.fail("t", "missing: every event needs a time t in seconds");
    if (!(seen & F_VM)) this.fail("vm", "missing: every event needs a VM (name or index)");
    if (!(seen & F_OP)) this.fail("op", `missing: every event needs an op (${OP_LIST})`);
    if (op === TraceOp.balloon || op === TraceOp.idle || op === TraceOp.active) {
      const extra = seen & (F_GPN | F_PAGES | F_RANGE | F_SEED | F_BYTES | (op === TraceOp.balloon ? 0 : F_TARGET));
      if (extra) this.fail(this.fieldName(extra), `${this.article(op)} event takes no ${this.fieldName(extra)}`);
      if (op === TraceOp.balloon) {
        if (!(seen & F_TARGET)) this.fail("target", "missing: a balloon event needs a target in pages");
        gpn = 0;
        pages = target;
      } else {
        gpn = 0;
        pages = 0;
      }
    } else {
      if (seen & F_TARGET) this.fail("target", "only balloon events have a target");
      if ((seen & (F_GPN | F_RANGE)) === 0) this.fail("gpn", `missing: ${this.article(op)} event needs gpn (and pages) or range`);
      if ((seen & F_GPN) && (seen & F_RANGE)) this.fail("range", "give gpn (with pages) or range, not both");
      if ((seen & F_PAGES) && (seen & F_RANGE)) this.fail("pages", "give pages with gpn, not with range");
      if (seen & F_RANGE) pages = rangeLast - gpn + 1;
      if (op === TraceOp.write) {
        if ((seen & (F_SEED | F_BYTES)) === 0) this.fail("seed", "missing: a write needs a seed (or bytes)");
        if ((seen & F_SEED) && (seen & F_BYTES)) this.fail("bytes", "give seed or bytes, not both");
        if (seen & F_BYTES) {
          if (pages !== 1) this.fail("pages", `a write with bytes writes exactly one page, found ${pages} pages`);
          op = TraceOp.writeBytes;
        }
      } else if (seen & (F_SEED | F_BYTES)) {
        this.fail(seen & F_SEED ? "seed" : "bytes", `only write events have ${seen & F_SEED ? "a seed" : "bytes"}`);
      }
    }
    this.timeMs = t;
    this.vm = vm;
    this.op = op;
    this.gpn = gpn;
    this.pages = pages;
  }

  private badRange(at: number): never {
    return this.fail("range", `expected [first, last] page numbers (integers, first <= last), found ${this.found(at)}`);
  }

  private article(op: number): string {
    const name = this.opName(op);
    return `${/^[aeiou]/.test(name) ? "an" : "a"} ${name}`;
  }

  private opName(op: number): string {
    const k = OP_WORD_CODES.indexOf(op);
    return new TextDecoder().decode(OP_WORD_BYTES[k] ?? new Uint8Array(0));
  }

  private fieldName(bit: number): string {
    const names = ["t", "vm", "op", "gpn", "pages", "range", "seed", "bytes", "target"];
    return names[31 - Math.clz32(bit & -bit)] ?? "field";
  }
}

// ---- the reader -----------------------------------------------------------------------------

export interface OpenJsonlOptions {
  /** The VM table for a file without a header line (a header wins over it). */
  vms?: readonly TraceVm[];
  chunkEvents?: number;
}

/** Opens a JSON Lines trace for streaming: reads the header line (if any) now, events on demand. */
export async function openJsonlTrace(path: string, options: OpenJsonlOptions = {}): Promise<TraceSource> {
  const chunkEvents = options.chunkEvents ?? 65536;
  const reader = await LineReader.open(path, 0, 0, MAX_HEADER_LINE_BYTES);
  let header: TraceHeader | undefined;
  let bodyOffset = 0;
  let bodyLine = 0;
  let totalBytes = 0;
  try {
    totalBytes = await reader.size();
    find: for (;;) {
      while (reader.next()) {
        const b = reader.bytes;
        if (isBlankOrComment(b, reader.lineStart, reader.lineEnd)) continue;
        const text = b.toString("utf8", reader.lineStart, reader.lineEnd);
        const looksLikeHeader = /^\s*\{\s*"overcommit"/.test(text);
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          if (looksLikeHeader) throw new TraceFormatError(path, `line ${reader.line}`, `header: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
        }
        if (typeof value === "object" && value !== null && Object.hasOwn(value, "overcommit")) {
          header = parseJsonlHeader(path, reader.line, value);
          bodyOffset = reader.offset;
          bodyLine = reader.line;
        } else if (reader.lineEnd - reader.lineStart > MAX_LINE_BYTES) {
          throw new TraceFormatError(path, `line ${reader.line}`, `line too long: expected at most ${MAX_LINE_BYTES} bytes per line, found ${reader.lineEnd - reader.lineStart}`);
        }
        break find;
      }
      if (!(await reader.fill())) break;
    }
  } finally {
    await reader.close();
  }
  if (!header) {
    if (!options.vms) {
      throw new TraceFormatError(
        path,
        "line 1",
        'no header line ({"overcommit":"trace","version":1,"vms":[{"name":"vm1","memoryMiB":1024}]}) and no VM table given: ' +
          "add a header line, or give the VMs (--jsonl-vms vm1:1024,vm2:512)",
      );
    }
    header = checkVmTable(path, "VM table option", options.vms);
  }
  const table = header;
  let bytesRead = bodyOffset;
  return {
    path,
    format: "jsonl",
    header: table,
    totalBytes,
    get bytesRead() {
      return bytesRead;
    },
    async *chunks() {
      const lines = await LineReader.open(path, bodyOffset, bodyLine, MAX_LINE_BYTES);
      const parser = new JsonlEventParser(path, table);
      const validator = new EventValidator(path, table, (line) => `line ${line}`);
      const chunk = new TraceChunk(chunkEvents);
      try {
        for (;;) {
          while (lines.next()) {
            const b = lines.bytes;
            const s = lines.lineStart;
            const e = lines.lineEnd;
            if (isBlankOrComment(b, s, e)) continue;
            parser.parse(b, s, e, lines.line);
            validator.check(lines.line, parser.timeMs, parser.vm, parser.op, parser.gpn, parser.pages);
            chunk.push(parser.timeMs, parser.vm, parser.op as TraceOpCode, parser.gpn, parser.pages, parser.argLow, parser.argHigh, parser.bytes);
            if (chunk.full) {
              bytesRead = lines.offset;
              yield chunk;
              chunk.clear();
            }
          }
          if (!(await lines.fill())) break;
        }
        bytesRead = lines.offset;
        if (chunk.count > 0) yield chunk;
      } finally {
        await lines.close();
      }
    },
  };
}

// ---- the writer -----------------------------------------------------------------------------

const OP_TEXT: readonly (Uint8Array | undefined)[] = (() => {
  const out: (Uint8Array | undefined)[] = [];
  const words: Record<number, string> = {
    [TraceOp.touch]: "touch",
    [TraceOp.write]: "write",
    [TraceOp.writeBytes]: "write",
    [TraceOp.alloc]: "alloc",
    [TraceOp.free]: "free",
    [TraceOp.balloon]: "balloon",
    [TraceOp.idle]: "idle",
    [TraceOp.active]: "active",
    [TraceOp.io]: "io",
  };
  for (const [code, word] of Object.entries(words)) out[Number(code)] = ASCII(`,"op":"${word}"`);
  return out;
})();
const HEX = ASCII("0123456789abcdef");
const WRITE_BLOCK_BYTES = 1 << 20;

/** Writes a JSON Lines trace: the header line, then one line per event, in large blocks. */
export class JsonlTraceWriter extends BlockFileWriter {
  declare protected readonly block: Buffer;
  private readonly vmRefs: readonly Uint8Array[];
  private readonly maxRef: number;

  constructor(
    path: string,
    readonly header: TraceHeader,
  ) {
    const vms = header.vms.map((vm) => ({ name: vm.name, pages: vm.pages }));
    super(path, Buffer.allocUnsafe(WRITE_BLOCK_BYTES), `${JSON.stringify({ overcommit: "trace", version: 1, vms })}\n`);
    this.vmRefs = header.vms.map((vm, i) => {
      const name = JSON.stringify(vm.name);
      return ASCII(`,"vm":${name.length <= 200 ? name : String(i)}`);
    });
    this.maxRef = this.vmRefs.reduce((m, ref) => Math.max(m, ref.length), 0);
  }

  private put(word: Uint8Array): void {
    this.block.set(word, this.used);
    this.used += word.length;
  }

  private ascii(text: string): void {
    this.used += this.block.write(text, this.used, "latin1");
  }

  private uint(n: number): void {
    const b = this.block;
    if (n < 10) {
      b[this.used++] = 0x30 + n;
      return;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let i = this.used + digits - 1;
    let q = n;
    while (q > 0) {
      const r = q % 10;
      b[i--] = 0x30 + r;
      q = (q - r) / 10;
    }
    this.used += digits;
  }

  private hex(word: number, pad: boolean): void {
    const b = this.block;
    let started = pad;
    for (let shift = 28; shift >= 0; shift -= 4) {
      const d = (word >>> shift) & 15;
      if (!started && d === 0 && shift > 0) continue;
      started = true;
      b[this.used++] = HEX[d] as number;
    }
  }

  private time(ms: number): void {
    if (Number.isInteger(ms) && ms >= 0 && ms <= Number.MAX_SAFE_INTEGER) {
      const whole = Math.floor(ms / 1000);
      let frac = ms - whole * 1000;
      this.uint(whole);
      if (frac !== 0) {
        const b = this.block;
        b[this.used++] = 0x2e;
        let scale = 100;
        while (frac !== 0) {
          const d = Math.floor(frac / scale);
          b[this.used++] = 0x30 + d;
          frac -= d * scale;
          scale /= 10;
        }
      }
      return;
    }
    this.ascii(formatSecondsOfMs(ms));
  }

  writeEvent(timeMs: number, vm: number, op: number, gpn: number, pages: number, argLow = 0, argHigh = 0, bytes?: Uint8Array): void {
    const ref = this.vmRefs[vm];
    const opText = OP_TEXT[op];
    if (ref === undefined) throw new RangeError(`vm: expected 0..${this.vmRefs.length - 1}, found ${vm}`);
    if (opText === undefined) throw new RangeError(`op: expected an op code 1..9, found ${op}`);
    if (!(timeMs >= 0) || !Number.isFinite(timeMs)) throw new RangeError(`time: expected a non-negative number of milliseconds, found ${timeMs}`);
    if (op === TraceOp.writeBytes && (!bytes || bytes.length !== PAGE_BYTES)) throw new RangeError(`writeBytes: expected ${PAGE_BYTES} bytes of page data`);
    this.room(this.maxRef + 8192);
    this.ascii('{"t":');
    this.time(timeMs);
    this.put(ref);
    this.put(opText);
    if (op === TraceOp.balloon) {
      this.ascii(',"target":');
      this.uint(pages);
    } else if (op !== TraceOp.idle && op !== TraceOp.active) {
      this.ascii(',"gpn":');
      this.uint(gpn);
      if (pages !== 1) {
        this.ascii(',"pages":');
        this.uint(pages);
      }
      if (op === TraceOp.write) {
        this.ascii(',"seed":"0x');
        if (argHigh !== 0) {
          this.hex(argHigh >>> 0, false);
          this.hex(argLow >>> 0, true);
        } else {
          this.hex(argLow >>> 0, false);
        }
        this.block[this.used++] = 0x22;
      } else if (op === TraceOp.writeBytes && bytes) {
        this.ascii(',"bytes":"');
        this.ascii(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64"));
        this.block[this.used++] = 0x22;
      }
    }
    this.block[this.used++] = 0x7d;
    this.block[this.used++] = 0x0a;
    this.eventsWritten++;
  }

}
