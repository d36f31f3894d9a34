// The event model every trace format reads into and writes from. Events travel in chunks, a
// struct of typed arrays (no object per event), so a replay can run millions of events a second.
//
// One event: at `timeMs` (simulated milliseconds, never decreasing), VM `vm` (an index into the
// trace's VM table) does `op` on guest pages [gpn, gpn + pages):
//
//   touch       guest read access (first touch backs the page with a zeroed frame)
//   write       the pages' new content is the 64-bit content seed in arg (0: zero page; identical
//               seeds give identical bytes)
//   writeBytes  one page's new content is `bytes` (4096 bytes)
//   alloc       the guest allocates the pages (the host sees nothing until they are touched)
//   free        the guest frees the pages: its balloon driver may take them; the host still backs them
//   balloon     balloon hint: the VM's balloon target becomes `pages` pages (0: back to the host's policy)
//   idle        the VM goes idle (a phase marker, reported as an event)
//   active      the VM becomes active (a phase marker)
//   io          a guest I/O on each of the pages (bounce copies, I/O remapping)
import { OvercommitError } from "../core/errors.ts";

export const TraceOp = {
  touch: 1,
  write: 2,
  writeBytes: 3,
  alloc: 4,
  free: 5,
  balloon: 6,
  idle: 7,
  active: 8,
  io: 9,
} as const;
export type TraceOpName = keyof typeof TraceOp;
export type TraceOpCode = (typeof TraceOp)[TraceOpName];
export const TRACE_OP_NAMES: readonly TraceOpName[] = ["touch", "write", "writeBytes", "alloc", "free", "balloon", "idle", "active", "io"];

export function opName(code: number): TraceOpName | undefined {
  return TRACE_OP_NAMES[code - 1];
}

export interface TraceVm {
  readonly name: string;
  /** Configured guest memory in 4 KiB pages. */
  readonly pages: number;
}

export interface TraceHeader {
  readonly vms: readonly TraceVm[];
}

/** What a trace writer takes, one event at a time. */
export interface TraceEventWriter {
  writeEvent(timeMs: number, vm: number, op: number, gpn: number, pages: number, argLow?: number, argHigh?: number, bytes?: Uint8Array): void;
}

/** A batch of events as parallel typed arrays; `count` of `capacity` are filled. */
export class TraceChunk {
  count = 0;
  readonly timeMs: Float64Array;
  readonly vm: Uint16Array;
  readonly op: Uint8Array;
  readonly gpn: Uint32Array;
  readonly pages: Uint32Array;
  /** Content seed (write) low and high words; unused otherwise. */
  readonly argLow: Uint32Array;
  readonly argHigh: Uint32Array;
  /** Page bytes of writeBytes events, by event index. */
  readonly bytes = new Map<number, Uint8Array>();

  constructor(readonly capacity: number) {
    this.timeMs = new Float64Array(capacity);
    this.vm = new Uint16Array(capacity);
    this.op = new Uint8Array(capacity);
    this.gpn = new Uint32Array(capacity);
    this.pages = new Uint32Array(capacity);
    this.argLow = new Uint32Array(capacity);
    this.argHigh = new Uint32Array(capacity);
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  clear(): void {
    this.count = 0;
    this.bytes.clear();
  }

  /** Appends one event; returns its index. The caller checks `full` first. */
  push(timeMs: number, vm: number, op: TraceOpCode, gpn: number, pages: number, argLow = 0, argHigh = 0, bytes?: Uint8Array): number {
    const i = this.count++;
    this.timeMs[i] = timeMs;
    this.vm[i] = vm;
    this.op[i] = op;
    this.gpn[i] = gpn;
    this.pages[i] = pages;
    this.argLow[i] = argLow;
    this.argHigh[i] = argHigh;
    if (bytes) this.bytes.set(i, bytes);
    return i;
  }

  /** Hands every event to `writer.writeEvent`, in order (what the trace writers' writeChunk does). */
  writeTo(writer: TraceEventWriter): void {
    for (let i = 0; i < this.count; i++) {
      writer.writeEvent(this.timeMs[i] ?? 0, this.vm[i] ?? 0, this.op[i] ?? 0, this.gpn[i] ?? 0, this.pages[i] ?? 0, this.argLow[i] ?? 0, this.argHigh[i] ?? 0, this.bytes.get(i));
    }
  }

  seedAt(i: number): bigint {
    return (BigInt(this.argHigh[i] ?? 0) << 32n) | BigInt(this.argLow[i] ?? 0);
  }
}

/** A trace being read: its header, then its events in chunks, in time order. */
export interface TraceSource {
  readonly path: string;
  readonly format: "binary" | "jsonl" | "lackey" | "fingerprints" | "generated";
  readonly header: TraceHeader;
  /** Bytes of input in all (for progress), if known. */
  readonly totalBytes?: number;
  /** Bytes consumed so far (for progress). */
  readonly bytesRead: number;
  /** Yields chunks; the same chunk object may be reused between yields. */
  chunks(): AsyncIterable<TraceChunk>;
}

/**
 * Bad trace input: which file, where (line or byte offset), which field, what was expected and
 * what was found. Readers end with this, never with a crash or a silent wrong result.
 */
export class TraceFormatError extends OvercommitError {
  readonly file: string;
  readonly location: string;

  constructor(file: string, location: string, message: string) {
    super("INVALID_ARGUMENT", `${file}: ${location}: ${message}`);
    this.name = "TraceFormatError";
    this.file = file;
    this.location = location;
  }
}

/** Checks what every reader must guarantee for each event; throws TraceFormatError. */
export class EventValidator {
  private lastTimeMs = 0;

  /**
   * `describe` words where an event is from the number `check` is given (a byte offset, a line);
   * it is only called for an error, so checking builds no string and no closure per event.
   */
  constructor(
    private readonly file: string,
    private readonly header: TraceHeader,
    private readonly describe: (where: number) => string = (where) => `byte offset ${where}`,
  ) {}

  /** Checks one event found at `where` (see the constructor). */
  check(where: number, timeMs: number, vm: number, op: number, gpn: number, pages: number): void {
    const entry = this.header.vms[vm];
    if (
      timeMs >= this.lastTimeMs &&
      timeMs <= Number.MAX_SAFE_INTEGER &&
      entry !== undefined &&
      op >= TraceOp.touch &&
      op <= TraceOp.io &&
      (op === TraceOp.balloon || op === TraceOp.idle || op === TraceOp.active
        ? op !== TraceOp.balloon || (pages >= 0 && pages <= entry.pages && Number.isInteger(pages))
        : pages >= 1 && gpn >= 0 && gpn + pages <= entry.pages && Number.isInteger(gpn) && Number.isInteger(pages) && (op !== TraceOp.writeBytes || pages === 1))
    ) {
      this.lastTimeMs = timeMs;
      return;
    }
    this.fail(this.describe(where), timeMs, vm, op, gpn, pages);
  }

  private fail(location: string, timeMs: number, vm: number, op: number, gpn: number, pages: number): never {
    const error = (message: string): never => {
      throw new TraceFormatError(this.file, location, message);
    };
    if (!Number.isFinite(timeMs) || timeMs < 0) error(`time: expected a non-negative number of seconds, found ${timeMs / 1000}`);
    if (timeMs < this.lastTimeMs) error(`time: events must not go back in time: ${timeMs / 1000} s after ${this.lastTimeMs / 1000} s`);
    const table = this.header.vms;
    const entry = table[vm];
    if (!entry) error(`vm: expected a VM of the trace (0..${table.length - 1}${table.length ? `: ${table.map((v) => v.name).slice(0, 5).join(", ")}` : ""}), found ${vm}`);
    const name = opName(op);
    if (name === undefined) error(`op: expected one of ${TRACE_OP_NAMES.join(", ")}, found code ${op}`);
    if (name === "balloon" && entry) error(`pages: a balloon target must be 0..${entry.pages} pages for VM "${entry.name}", found ${pages}`);
    if (!Number.isInteger(pages) || pages < 1) error(`pages: expected a positive page count, found ${pages}`);
    if (name === "writeBytes" && pages !== 1) error(`pages: a writeBytes event writes exactly one page, found ${pages}`);
    throw new TraceFormatError(this.file, location, entry ? `gpn: pages ${gpn}..${gpn + pages - 1} are outside VM "${entry.name}" (GPNs 0..${entry.pages - 1})` : "invalid event");
  }
}
