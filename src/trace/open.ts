// Opens a trace file of any supported format, recognised by its first bytes and lines:
//   binary        starts with the magic "OVCTRACE" (binary.ts)
//   jsonl         the first line that is not blank or a "#" comment starts with "{" (jsonl.ts)
//   fingerprints  that line starts with "vm " or "snapshot " (fingerprints.ts); also a file
//                 of nothing but comments and blank lines
//   lackey        that line is a lackey record ("I  addr,size", " L/S/M addr,size") or the file
//                 starts with valgrind's "==pid==" lines (lackey.ts)
// Formats that need more than the file gives (a JSONL trace without a header line: its VM table;
// lackey: the VM's size and the record rate) take it from OpenTraceOptions.
import { open } from "node:fs/promises";
import { openBinaryTrace, BINARY_MAGIC } from "./binary.ts";
import { TraceFormatError, type TraceSource, type TraceVm } from "./events.ts";
import { openFingerprintTrace } from "./fingerprints.ts";
import { openJsonlTrace } from "./jsonl.ts";
import { openLackeyTrace, type LackeyOptions } from "./lackey.ts";

export type TraceFormat = TraceSource["format"];
/** Formats a file can be in. */
export type FileTraceFormat = Exclude<TraceFormat, "generated">;
export const FILE_TRACE_FORMATS: readonly FileTraceFormat[] = ["binary", "jsonl", "lackey", "fingerprints"];

export interface OpenTraceOptions {
  /** Read the file as this format instead of detecting it. */
  format?: FileTraceFormat;
  /** JSONL without a header line: the VM table (a header in the file wins). */
  jsonlVms?: readonly TraceVm[];
  /** Lackey: the VM's size, the record rate, the VM's name. */
  lackey?: Omit<LackeyOptions, "chunkEvents">;
  /** Events per chunk (default 65,536). */
  chunkEvents?: number;
}

/** How far detection reads looking for the first line that is not blank, a comment or "==". */
const DETECT_BYTES = 1 << 20;
const LACKEY_RECORD = /^(I[ \t]+|[ \t]+[LSM][ \t]+)[0-9A-Fa-f]+,\d+[ \t]*$/;

/** Guesses a file's trace format from its first bytes. */
export async function detectFormat(path: string): Promise<TraceFormat> {
  const file = await open(path, "r").catch((cause: unknown) => {
    throw new TraceFormatError(path, "open", cause instanceof Error ? cause.message : String(cause));
  });
  try {
    const size = (await file.stat()).size;
    const head = Buffer.allocUnsafe(Math.min(DETECT_BYTES, size));
    let have = 0;
    while (have < head.length) {
      const { bytesRead } = await file.read(head, have, head.length - have, have);
      if (bytesRead === 0) break;
      have += bytesRead;
    }
    if (have === 0) throw new TraceFormatError(path, "byte offset 0", "empty file: cannot tell its trace format");
    const magic = head.toString("latin1", 0, Math.min(have, BINARY_MAGIC.length));
    if (magic === BINARY_MAGIC || (have < BINARY_MAGIC.length && BINARY_MAGIC.startsWith(magic) && have >= 4)) return "binary";
    let at = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
    let sawValgrind = false;
    let sawComment = false;
    let lineNumber = 0;
    while (at < have) {
      let nl = head.indexOf(10, at);
      const complete = nl >= 0 && nl < have;
      if (!complete) nl = have;
      lineNumber++;
      const line = head.toString("latin1", at, nl).replace(/\r$/, "");
      at = nl + 1;
      const trimmed = line.trimStart();
      if (trimmed === "") continue;
      if (line.startsWith("==")) {
        sawValgrind = true;
        continue;
      }
      if (trimmed.startsWith("#")) {
        sawComment = true;
        continue;
      }
      if (trimmed.startsWith("{")) return "jsonl";
      if (/^(vm|snapshot)[ \t]/.test(trimmed)) return "fingerprints";
      if (LACKEY_RECORD.test(line) || (!complete && /^(I[ \t]+|[ \t]+[LSM][ \t]+)[0-9A-Fa-f]*/.test(line))) return "lackey";
      if (sawValgrind) return "lackey"; // valgrind output: the lackey reader names the bad line
      throw new TraceFormatError(
        path,
        `line ${lineNumber}`,
        "unrecognised trace format: expected a binary trace (starting \"OVCTRACE\"), JSON Lines (\"{...}\"), " +
          `Valgrind lackey ("I  0023C790,2", " L 0025747C,4") or page fingerprints ("vm <name> <pages>", "snapshot <seconds> <vm>"), found ${JSON.stringify(line.slice(0, 40))}`,
      );
    }
    if (sawValgrind) return "lackey";
    if (sawComment) return "fingerprints";
    throw new TraceFormatError(path, "byte offset 0", "nothing but blank lines: cannot tell its trace format");
  } finally {
    await file.close();
  }
}

/** Opens a trace for streaming, whatever its format. */
export async function openTrace(path: string, options: OpenTraceOptions = {}): Promise<TraceSource> {
  const format = options.format ?? (await detectFormat(path));
  const chunkEvents = options.chunkEvents;
  switch (format) {
    case "binary":
      return openBinaryTrace(path, chunkEvents);
    case "jsonl":
      return openJsonlTrace(path, { ...(options.jsonlVms ? { vms: options.jsonlVms } : {}), ...(chunkEvents ? { chunkEvents } : {}) });
    case "lackey":
      return openLackeyTrace(path, { ...options.lackey, ...(chunkEvents ? { chunkEvents } : {}) });
    case "fingerprints":
      return openFingerprintTrace(path, chunkEvents ? { chunkEvents } : {});
    default:
      throw new TraceFormatError(path, "byte offset 0", `cannot read ${format} traces`);
  }
}
