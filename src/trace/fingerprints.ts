// Page-fingerprint snapshots: the form in which page-sharing studies publish memory data (a hash
// per page per snapshot, not the bytes). Read as a stream of write events.
//
//   # comment                    comment lines and blank lines are skipped anywhere
//   vm <name> <pages>            declares a VM (name: no spaces; pages: 1..2^32-1); every vm
//                                line comes before the first snapshot
//   snapshot <seconds> <vm>      starts a snapshot of one VM at a time in seconds (a decimal,
//                                non-decreasing through the file)
//   <fingerprint>                one per line after a snapshot line, for GPN 0, 1, 2, ...: a 64-bit
//                                hex number (1-16 hex digits, "0x" optional); 0 means a zero page
//
// Meaning:
//   - A fingerprint becomes the page's content seed: the page holds the bytes the content-seed
//     generator makes from it, so pages with identical fingerprints have identical bytes (and
//     share exactly), fingerprint 0 is the zero page, and the fingerprint's top two bits choose
//     how compressible the page is (README, "Content seeds").
//   - A snapshot may list fewer fingerprints than the VM has pages: the pages after the last one
//     listed keep what they had (untouched if never listed, else unchanged since the last
//     snapshot that listed them). It may not list more.
//   - Events: a snapshot writes (op write, seed = fingerprint) every listed page whose fingerprint
//     differs from the one the VM's previous snapshot gave it, and every listed page no earlier
//     snapshot listed (so the VM's first snapshot writes every listed page). Unchanged pages give
//     no event. Consecutive pages with the same new fingerprint become one multi-page write.
//
// Memory: per VM, the latest fingerprint of each page a snapshot listed (8 bytes per page, grown
// as longer snapshots come): O(pages of the VMs), constant in the number of snapshots.
import { EventValidator, TraceChunk, TraceFormatError, TraceOp, type TraceHeader, type TraceSource, type TraceVm } from "./events.ts";
import { LineReader, MAX_LINE_BYTES, checkVmTable, quoteBytes, scanNumber, scannedNumber } from "./jsonl.ts";

export interface FingerprintOptions {
  chunkEvents?: number;
}

const SNAPSHOT = new TextEncoder().encode("snapshot");
const VM = new TextEncoder().encode("vm");

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

function startsWithWord(b: Uint8Array, p: number, e: number, word: Uint8Array): boolean {
  if (e - p <= word.length) return false;
  for (let i = 0; i < word.length; i++) if (b[p + i] !== word[i]) return false;
  return isSpace(b[p + word.length]);
}

/** Splits the rest of a line into whitespace-separated tokens (for vm and snapshot lines only). */
function tokens(b: Buffer, p: number, e: number): string[] {
  return b.toString("utf8", p, e).split(/[ \t]+/).filter((t) => t.length > 0);
}

interface VmState {
  /** Fingerprints of the latest snapshot, by GPN (grown to cover the pages listed so far). */
  low: Uint32Array;
  high: Uint32Array;
  /** Pages listed by any snapshot so far: [0, listed). */
  listed: number;
}

/** Opens a fingerprint-snapshot file for streaming: reads the vm lines now, snapshots on demand. */
export async function openFingerprintTrace(path: string, options: FingerprintOptions = {}): Promise<TraceSource> {
  const chunkEvents = Math.max(16, options.chunkEvents ?? 65536);
  const reader = await LineReader.open(path, 0, 0, MAX_LINE_BYTES);
  const vms: TraceVm[] = [];
  let bodyOffset = 0;
  let bodyLine = 0;
  let totalBytes = 0;
  try {
    totalBytes = await reader.size();
    scan: for (;;) {
      while (reader.next()) {
        const b = reader.bytes;
        const e = reader.lineEnd;
        let p = reader.lineStart;
        while (p < e && isSpace(b[p])) p++;
        if (p === e || b[p] === 0x23) {
          bodyOffset = reader.offset;
          bodyLine = reader.line;
          continue;
        }
        const where = `line ${reader.line}`;
        if (startsWithWord(b, p, e, VM)) {
          const words = tokens(b, p + VM.length, e);
          const [name, pagesText] = words;
          if (words.length !== 2 || name === undefined || pagesText === undefined) {
            throw new TraceFormatError(path, where, `vm line: expected "vm <name> <pages>", found ${quoteBytes(b, p, e, 80)}`);
          }
          const pages = /^\d+$/.test(pagesText) ? Number(pagesText) : NaN;
          if (!(pages >= 1 && pages <= 0xffffffff)) throw new TraceFormatError(path, where, `pages: expected a page count from 1 to ${0xffffffff}, found ${JSON.stringify(pagesText)}`);
          if (vms.some((vm) => vm.name === name)) throw new TraceFormatError(path, where, `vm: VM names must be unique, found "${name}" twice`);
          if (vms.length >= 65535) throw new TraceFormatError(path, where, "vm: expected at most 65535 VMs");
          vms.push({ name, pages });
          bodyOffset = reader.offset;
          bodyLine = reader.line;
          continue;
        }
        if (startsWithWord(b, p, e, SNAPSHOT)) break scan;
        throw new TraceFormatError(path, where, `expected "vm <name> <pages>" or "snapshot <seconds> <vm>" before the first fingerprint, found ${quoteBytes(b, p, e, 60)}`);
      }
      if (!(await reader.fill())) break;
    }
  } finally {
    await reader.close();
  }
  if (vms.length === 0) throw new TraceFormatError(path, "line 1", 'expected "vm <name> <pages>" lines declaring the VMs before the first snapshot, found none');
  const header: TraceHeader = checkVmTable(path, "vm lines", vms);
  const vmIndex = new Map(header.vms.map((vm, i) => [vm.name, i]));
  let bytesRead = bodyOffset;
  return {
    path,
    format: "fingerprints",
    header,
    totalBytes,
    get bytesRead() {
      return bytesRead;
    },
    async *chunks() {
      const lines = await LineReader.open(path, bodyOffset, bodyLine, MAX_LINE_BYTES);
      const validator = new EventValidator(path, header, (line) => `line ${line}`);
      const chunk = new TraceChunk(chunkEvents);
      const states: (VmState | undefined)[] = header.vms.map(() => undefined);
      let state: VmState | undefined;
      let vm = -1;
      let vmPages = 0;
      let timeMs = 0;
      let lastSnapshotMs = 0;
      let gpn = 0;
      let snapshotLine = 0;
      // The pending run of changed pages: [runStart, runStart + runPages) get (runHigh, runLow).
      let runStart = 0;
      let runPages = 0;
      let runLow = 0;
      let runHigh = 0;
      let runLine = 0;
      const fail = (line: number, message: string): never => {
        throw new TraceFormatError(path, `line ${line}`, message);
      };
      const flush = (): void => {
        if (runPages === 0) return;
        validator.check(runLine, timeMs, vm, TraceOp.write, runStart, runPages);
        chunk.push(timeMs, vm, TraceOp.write, runStart, runPages, runLow, runHigh);
        runPages = 0;
      };
      const endSnapshot = (): void => {
        flush();
        if (state && gpn > state.listed) state.listed = gpn;
      };
      try {
        for (;;) {
          while (lines.next()) {
            const b = lines.bytes;
            const e = lines.lineEnd;
            const line = lines.line;
            let p = lines.lineStart;
            while (p < e && isSpace(b[p])) p++;
            if (p === e || b[p] === 0x23) continue;
            let c = b[p] as number;
            if (c === 0x73 && startsWithWord(b, p, e, SNAPSHOT)) {
              endSnapshot();
              p += SNAPSHOT.length;
              while (p < e && isSpace(b[p])) p++;
              const q = scanNumber(b, p, e, 3);
              if (q < 0 || (q < e && !isSpace(b[q]))) fail(line, `snapshot time: expected a number of seconds, found ${quoteBytes(b, p, e)}`);
              const t = scannedNumber;
              if (!(t >= 0) || t > Number.MAX_SAFE_INTEGER) fail(line, `snapshot time: expected seconds from 0 to 9e12, found ${quoteBytes(b, p, q)}`);
              if (t < lastSnapshotMs) fail(line, `snapshot time: snapshots must not go back in time: ${t / 1000} s after ${lastSnapshotMs / 1000} s`);
              const words = tokens(b, q, e);
              const name = words[0];
              if (words.length !== 1 || name === undefined) fail(line, `snapshot: expected "snapshot <seconds> <vm>", found ${quoteBytes(b, lines.lineStart, e, 80)}`);
              const index = vmIndex.get(name as string);
              if (index === undefined) {
                fail(line, `snapshot vm: unknown VM ${JSON.stringify(name)} (declared: ${header.vms.slice(0, 5).map((v) => v.name).join(", ")}${header.vms.length > 5 ? ", ..." : ""})`);
              }
              vm = index as number;
              vmPages = header.vms[vm]?.pages ?? 0;
              let s = states[vm];
              if (!s) {
                const initial = Math.min(vmPages, 4096);
                s = { low: new Uint32Array(initial), high: new Uint32Array(initial), listed: 0 };
                states[vm] = s;
              }
              state = s;
              timeMs = t;
              lastSnapshotMs = t;
              gpn = 0;
              snapshotLine = line;
            } else if (c === 0x76 && startsWithWord(b, p, e, VM)) {
              fail(line, "vm lines must all come before the first snapshot");
            } else {
              // A fingerprint: optional 0x, 1-16 significant hex digits.
              const start = p;
              if (c === 0x30 && p + 1 < e && ((b[p + 1] as number) | 0x20) === 0x78) p += 2;
              const digits = p;
              let low = 0;
              let high = 0;
              let significant = 0;
              while (p < e) {
                c = b[p] as number;
                const l = c | 0x20;
                const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
                if (d < 0) break;
                if (significant > 0 || d !== 0) significant++;
                high = ((high << 4) | (low >>> 28)) >>> 0;
                low = ((low << 4) | d) >>> 0;
                p++;
              }
              const digitsEnd = p;
              while (p < e && isSpace(b[p])) p++;
              if (digitsEnd === digits || p !== e) {
                fail(line, `expected a 64-bit hex fingerprint (or "snapshot <seconds> <vm>", "vm <name> <pages>", "# comment"), found ${quoteBytes(b, start, e)}`);
              }
              if (significant > 16) fail(line, `fingerprint: expected at most 16 hex digits (64 bits), found ${quoteBytes(b, start, digitsEnd)}`);
              if (!state) fail(line, 'fingerprint before the first "snapshot <seconds> <vm>" line');
              const s = state as VmState;
              if (gpn >= vmPages) {
                fail(line, `snapshot of VM "${header.vms[vm]?.name}" at line ${snapshotLine} lists more fingerprints than the VM's ${vmPages} pages`);
              }
              if (gpn >= s.low.length) {
                const size = Math.min(vmPages, s.low.length * 2);
                const grownLow = new Uint32Array(size);
                const grownHigh = new Uint32Array(size);
                grownLow.set(s.low);
                grownHigh.set(s.high);
                s.low = grownLow;
                s.high = grownHigh;
              }
              if (gpn >= s.listed || s.low[gpn] !== low || s.high[gpn] !== high) {
                s.low[gpn] = low;
                s.high[gpn] = high;
                if (runPages > 0 && runStart + runPages === gpn && runLow === low && runHigh === high) {
                  runPages++;
                } else {
                  flush();
                  runStart = gpn;
                  runPages = 1;
                  runLow = low;
                  runHigh = high;
                  runLine = line;
                }
              } else {
                flush();
              }
              gpn++;
            }
            if (chunk.count + 2 > chunk.capacity) {
              bytesRead = lines.offset;
              yield chunk;
              chunk.clear();
            }
          }
          if (!(await lines.fill())) break;
        }
        endSnapshot();
        bytesRead = lines.offset;
        if (chunk.count > 0) yield chunk;
      } finally {
        await lines.close();
      }
    },
  };
}
