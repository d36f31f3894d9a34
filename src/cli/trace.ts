// `overcommit trace ...`: make, convert and look into traces.
import { renameSync, rmSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError as CommanderArgumentError, Option } from "commander";
import { parsePercent, parsePositiveNumber, seedOption } from "./options.ts";
import { BinaryTraceWriter } from "../trace/binary.ts";
import { generateTrace, type Workload } from "../trace/generate.ts";
import { JsonlTraceWriter } from "../trace/jsonl.ts";
import type { BlockFileWriter } from "../trace/file-writer.ts";
import { LACKEY_DEFAULT_RATE, LACKEY_DEFAULT_VM_PAGES } from "../trace/lackey.ts";
import { FILE_TRACE_FORMATS, openTrace, type FileTraceFormat, type OpenTraceOptions } from "../trace/open.ts";
import { TRACE_OP_NAMES, TraceOp, type TraceChunk, type TraceHeader, type TraceOpName, type TraceVm } from "../trace/events.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import { createProgress } from "./progress.ts";
import { formatInt, table } from "./format.ts";

// ---- options for reading traces (also for `replay`) ---------------------------------------------

/** What `addTraceInputOptions` adds to a command's options. */
export interface TraceInputCommandOptions {
  format?: FileTraceFormat;
  jsonlVms?: TraceVm[];
  lackeyVmMib?: number;
  lackeyRate?: number;
}

/** Parses `--jsonl-vms`: "name:MiB[,name:MiB...]", a size ending in "p" being pages ("db:4096p"). */
export function parseVmTable(value: string): TraceVm[] {
  const vms: TraceVm[] = [];
  for (const part of value.split(",")) {
    const entry = part.trim();
    const colon = entry.lastIndexOf(":");
    const name = colon > 0 ? entry.slice(0, colon) : "";
    const size = colon > 0 ? entry.slice(colon + 1).trim() : "";
    const pages = size.endsWith("p") ? Number(size.slice(0, -1)) : Number(size) * 256;
    if (name === "" || size === "" || !Number.isInteger(pages) || pages < 1 || pages > 0xffffffff) {
      throw new CommanderArgumentError(`expected name:MiB[,name:MiB...] (MiB a multiple of 1/256, or pages as e.g. 4096p), found "${entry}"`);
    }
    if (vms.some((vm) => vm.name === name)) throw new CommanderArgumentError(`VM "${name}" is named twice`);
    vms.push({ name, pages });
  }
  return vms;
}

/**
 * Adds the options a trace file may need to be read: --format, --jsonl-vms, --lackey-vm-mib,
 * --lackey-rate. `traceOpenOptions` turns the parsed values into openTrace's options.
 */
export function addTraceInputOptions(command: Command): Command {
  return command
    .addOption(new Option("--format <format>", "read the trace as this format instead of detecting it").choices(FILE_TRACE_FORMATS as string[]))
    .option("--jsonl-vms <table>", "VM table of a JSON Lines trace without a header line: name:MiB[,name:MiB...] (or name:<pages>p)", parseVmTable)
    .option("--lackey-vm-mib <MiB>", `memory of the VM a Valgrind lackey trace runs in (default ${LACKEY_DEFAULT_VM_PAGES / 256})`, parsePositiveNumber)
    .option("--lackey-rate <records/s>", `lackey records per simulated second: lackey has no timestamps (default ${LACKEY_DEFAULT_RATE.toLocaleString("en-US")})`, parsePositiveNumber);
}

/** openTrace options from the options `addTraceInputOptions` added. */
export function traceOpenOptions(options: TraceInputCommandOptions): OpenTraceOptions {
  const lackey: NonNullable<OpenTraceOptions["lackey"]> = {};
  if (options.lackeyVmMib !== undefined) {
    const pages = Math.floor(options.lackeyVmMib * 256);
    if (pages < 1 || pages > 0xffffffff) throw new InvalidArgumentError(`--lackey-vm-mib: expected 1/256 MiB to 16 TiB, found ${options.lackeyVmMib}`);
    lackey.vmPages = pages;
  }
  if (options.lackeyRate !== undefined) lackey.rate = options.lackeyRate;
  return {
    ...(options.format ? { format: options.format } : {}),
    ...(options.jsonlVms ? { jsonlVms: options.jsonlVms } : {}),
    lackey,
  };
}

// ---- writers ---------------------------------------------------------------------------------

type OutputFormat = "binary" | "jsonl";

function openWriter(format: OutputFormat, path: string, header: TraceHeader): BlockFileWriter {
  return format === "jsonl" ? new JsonlTraceWriter(path, header) : new BinaryTraceWriter(path, header);
}

/** The output format: --to, else the file's extension (.jsonl, .bin). */
export function outputFormat(path: string, to: string | undefined): OutputFormat {
  if (to === "binary" || to === "jsonl") return to;
  if (to !== undefined) throw new InvalidArgumentError(`--to: expected binary or jsonl, found "${to}"`);
  if (/\.jsonl$/i.test(path)) return "jsonl";
  if (/\.bin$/i.test(path)) return "binary";
  throw new InvalidArgumentError(`cannot tell the output format of ${path}: name it .jsonl or .bin, or give --to binary|jsonl`);
}

// ---- trace gen ---------------------------------------------------------------------------------

export interface GenCommandOptions {
  out: string;
  vms: number;
  vmMib: number;
  events: number;
  duration: number;
  seed: bigint;
  workload: Workload;
  writePct: number;
  sharedPct: number;
  progress: boolean;
}

export async function runTraceGen(options: GenCommandOptions): Promise<void> {
  const source = generateTrace({
    vms: options.vms,
    vmMiB: options.vmMib,
    events: Math.floor(options.events),
    durationSec: options.duration,
    seed: options.seed,
    workload: options.workload,
    writePct: options.writePct,
    sharedPct: options.sharedPct,
  });
  const format: OutputFormat = /\.jsonl$/i.test(options.out) ? "jsonl" : "binary";
  const writer = openWriter(format, options.out, source.header);
  const progress = createProgress(options.progress);
  progress.start("generating", Math.floor(options.events), "events");
  try {
    let done = 0;
    for await (const chunk of source.chunks()) {
      writer.writeChunk(chunk);
      done += chunk.count;
      progress.update(done);
    }
  } finally {
    progress.stop();
    writer.close();
  }
  process.stderr.write(`wrote ${formatInt(writer.eventsWritten)} events for ${options.vms} VMs to ${options.out} (${format})\n`);
}

// ---- trace convert -----------------------------------------------------------------------------

export interface ConvertCommandOptions extends TraceInputCommandOptions {
  to?: string;
  progress?: boolean;
}

export interface ConvertReport {
  readonly input: string;
  readonly output: string;
  readonly from: string;
  readonly to: OutputFormat;
  readonly events: number;
  readonly vms: number;
}

/**
 * Converts a trace of any readable format to binary or JSONL, streaming. Writes a temporary file
 * next to `output` and renames it at the end, so a failed conversion leaves no partial output.
 */
export async function runTraceConvert(input: string, output: string, options: ConvertCommandOptions = {}): Promise<ConvertReport> {
  const to = outputFormat(output, options.to);
  if (resolve(input) === resolve(output)) throw new InvalidArgumentError(`convert: the output ${output} is the input file`);
  const source = await openTrace(input, traceOpenOptions(options));
  const partial = `${output}.partial-${process.pid}`;
  const progress = createProgress(options.progress ?? true);
  let writer: BlockFileWriter | undefined;
  let done = false;
  try {
    writer = openWriter(to, partial, source.header);
    progress.start(`converting ${basename(input)}`, source.totalBytes ?? 0, "bytes");
    for await (const chunk of source.chunks()) {
      try {
        writer.writeChunk(chunk);
      } catch (error) {
        if (error instanceof RangeError) throw new InvalidArgumentError(`convert: cannot write ${output} as ${to}: ${error.message}`);
        throw error;
      }
      progress.update(source.bytesRead);
    }
    writer.close();
    renameSync(partial, output);
    done = true;
  } finally {
    progress.stop();
    if (!done) {
      writer?.close();
      rmSync(partial, { force: true });
    }
  }
  return { input, output, from: source.format, to, events: writer.eventsWritten, vms: source.header.vms.length };
}

// ---- trace inspect -----------------------------------------------------------------------------

export interface InspectCommandOptions extends TraceInputCommandOptions {
  json?: boolean;
  progress?: boolean;
}

export interface InspectVm {
  readonly name: string;
  readonly pages: number;
  readonly memoryMiB: number;
  readonly events: number;
  /** Distinct pages the VM's touch, write and io events used. */
  readonly distinctPages: number;
  /** write events (by seed or with bytes). */
  readonly writes: number;
}

export interface InspectReport {
  readonly file: string;
  readonly format: string;
  readonly bytes: number | undefined;
  readonly events: number;
  readonly ops: Readonly<Record<TraceOpName, number>>;
  readonly firstSec: number | undefined;
  readonly lastSec: number | undefined;
  readonly spanSec: number;
  readonly vms: readonly InspectVm[];
}

const POPCOUNT = (() => {
  const table = new Uint8Array(256);
  for (let i = 1; i < 256; i++) table[i] = (i & 1) + (table[i >> 1] as number);
  return table;
})();

/** Marks pages [first, first + count) in a bitset; returns how many were not marked before. */
function markPages(bits: Uint8Array, first: number, count: number): number {
  let added = 0;
  let p = first;
  const end = first + count;
  while (p < end && (p & 7) !== 0) added += markPage(bits, p++);
  while (p + 8 <= end) {
    const i = p >>> 3;
    added += 8 - (POPCOUNT[bits[i] as number] as number);
    bits[i] = 0xff;
    p += 8;
  }
  while (p < end) added += markPage(bits, p++);
  return added;
}

/** Marks page `p`; 1 if it was not marked before. */
function markPage(bits: Uint8Array, p: number): number {
  const mask = 1 << (p & 7);
  const i = p >>> 3;
  const byte = bits[i] as number;
  if ((byte & mask) !== 0) return 0;
  bits[i] = byte | mask;
  return 1;
}

/**
 * Reads a whole trace and summarises it. Memory: one bit per page of each VM (up to the highest
 * page the trace uses), so O(pages), nothing per event.
 */
export async function inspectTrace(file: string, options: InspectCommandOptions = {}): Promise<InspectReport> {
  const source = await openTrace(file, traceOpenOptions(options));
  const vms = source.header.vms;
  const opCounts = new Float64Array(TRACE_OP_NAMES.length + 1);
  const vmEvents = new Float64Array(vms.length);
  const vmWrites = new Float64Array(vms.length);
  const vmDistinct = new Float64Array(vms.length);
  const bitsets: (Uint8Array | undefined)[] = vms.map(() => undefined);
  let events = 0;
  let firstMs: number | undefined;
  let lastMs = 0;
  const progress = createProgress(options.progress ?? true);
  progress.start(`inspecting ${basename(file)}`, source.totalBytes ?? 0, "bytes");
  try {
    for await (const chunk of source.chunks()) {
      if (chunk.count > 0) {
        firstMs ??= chunk.timeMs[0] ?? 0;
        lastMs = chunk.timeMs[chunk.count - 1] ?? lastMs;
      }
      for (let i = 0; i < chunk.count; i++) {
        const vm = chunk.vm[i] as number;
        const op = chunk.op[i] as number;
        opCounts[op] = (opCounts[op] as number) + 1;
        vmEvents[vm] = (vmEvents[vm] as number) + 1;
        if (op === TraceOp.write || op === TraceOp.writeBytes) vmWrites[vm] = (vmWrites[vm] as number) + 1;
        if (op === TraceOp.touch || op === TraceOp.write || op === TraceOp.writeBytes || op === TraceOp.io) {
          const first = chunk.gpn[i] as number;
          const count = chunk.pages[i] as number;
          let bits = bitsets[vm];
          const need = Math.ceil((first + count) / 8);
          if (!bits || bits.length < need) {
            // Grown to cover the highest page used (at most the VM's pages / 8 bytes).
            const grown = new Uint8Array(Math.min(Math.ceil((vms[vm]?.pages ?? 0) / 8), Math.max(need, (bits?.length ?? 0) * 2, 4096)));
            if (bits) grown.set(bits);
            bits = grown;
            bitsets[vm] = bits;
          }
          vmDistinct[vm] = (vmDistinct[vm] as number) + markPages(bits, first, count);
        }
      }
      events += chunk.count;
      progress.update(source.bytesRead);
    }
  } finally {
    progress.stop();
  }
  const ops = Object.fromEntries(TRACE_OP_NAMES.map((name) => [name, opCounts[TraceOp[name]] ?? 0])) as Record<TraceOpName, number>;
  return {
    file,
    format: source.format,
    bytes: source.totalBytes,
    events,
    ops,
    firstSec: firstMs === undefined ? undefined : firstMs / 1000,
    lastSec: firstMs === undefined ? undefined : lastMs / 1000,
    spanSec: firstMs === undefined ? 0 : (lastMs - firstMs) / 1000,
    vms: vms.map((vm, i) => ({
      name: vm.name,
      pages: vm.pages,
      memoryMiB: vm.pages / 256,
      events: vmEvents[i] ?? 0,
      distinctPages: vmDistinct[i] ?? 0,
      writes: vmWrites[i] ?? 0,
    })),
  };
}

export function formatInspectReport(r: InspectReport): string {
  const ops = TRACE_OP_NAMES.filter((name) => r.ops[name] > 0).map((name) => `${name} ${formatInt(r.ops[name])}`).join(", ");
  const seconds = (s: number | undefined): string => (s === undefined ? "-" : `${Number(s.toFixed(3))} s`);
  const rows = r.vms.map((vm) => [
    vm.name,
    `${Number(vm.memoryMiB.toFixed(2)).toLocaleString("en-US")} MiB`,
    formatInt(vm.pages),
    formatInt(vm.events),
    formatInt(vm.distinctPages),
    formatInt(vm.writes),
  ]);
  return [
    `trace    ${r.file} (${r.format}${r.bytes !== undefined ? `, ${formatInt(r.bytes)} bytes` : ""})`,
    `VMs      ${formatInt(r.vms.length)}`,
    `events   ${formatInt(r.events)}${ops ? ` (${ops})` : ""}`,
    `time     ${seconds(r.firstSec)} to ${seconds(r.lastSec)} (span ${seconds(r.spanSec)})`,
    "",
    table(["vm", "memory", "pages", "events", "distinct pages", "writes"], rows),
  ].join("\n");
}

export async function runTraceInspect(file: string, options: InspectCommandOptions = {}): Promise<InspectReport> {
  const report = await inspectTrace(file, options);
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatInspectReport(report)}\n`);
  return report;
}

// ---- commands ----------------------------------------------------------------------------------

export function registerTraceCommands(program: Command): void {
  const trace = program.command("trace").description("Make, convert and look into memory traces (binary, JSON Lines, Valgrind lackey, page fingerprints)");
  trace
    .command("gen")
    .description(
      "Generate a seeded synthetic trace: zipfian working sets (zipf), VMs booting the same OS content then zipf (boot), " +
        "or alternating active and idle phases (phases). Streams to the file (binary, or JSON Lines if it ends in .jsonl); any size.",
    )
    .requiredOption("-o, --out <file>", "output file (binary trace; JSON Lines if it ends in .jsonl)")
    .option("--vms <n>", "number of VMs", parsePositiveNumber, 8)
    .option("--vm-mib <MiB>", "memory per VM in MiB", parsePositiveNumber, 256)
    .option("--events <n>", "number of events (1e6, 100_000_000 ...)", parsePositiveNumber, 1_000_000)
    .option("--duration <seconds>", "simulated seconds the events spread over", parsePositiveNumber, 600)
    .option("--workload <kind>", "zipf, boot or phases", (v: string) => {
      if (v !== "zipf" && v !== "boot" && v !== "phases") throw new CommanderArgumentError(`expected zipf, boot or phases, found "${v}"`);
      return v;
    }, "boot" as Workload)
    .option("--write-pct <percent>", "percent of events that write new content", parsePercent, 10)
    .option("--shared-pct <percent>", "percent of written content from a pool shared by all VMs", parsePercent, 30)
    .addOption(seedOption("seed of the generated trace"))
    .option("--no-progress", "no progress bar on stderr")
    .action(async (options: GenCommandOptions) => {
      await runTraceGen(options);
    });

  addTraceInputOptions(
    trace
      .command("convert")
      .description(
        "Convert a trace (binary, JSON Lines, Valgrind lackey or page fingerprints; detected from its first bytes) to binary or JSON Lines, " +
          "streaming with constant memory. The output format is --to, else the output's extension (.bin, .jsonl).",
      )
      .argument("<in>", "input trace")
      .argument("<out>", "output file (.bin or .jsonl)")
      .addOption(new Option("--to <format>", "output format (default: from the output's extension)").choices(["binary", "jsonl"])),
  )
    .option("--no-progress", "no progress bar on stderr")
    .action(async (input: string, output: string, options: ConvertCommandOptions) => {
      const r = await runTraceConvert(input, output, options);
      process.stderr.write(`converted ${r.input} (${r.from}) to ${r.output} (${r.to}): ${formatInt(r.events)} events, ${r.vms} VMs\n`);
    });

  addTraceInputOptions(
    trace
      .command("inspect")
      .description(
        "Read a whole trace and summarise it: format, VMs, events per op, time span, and per VM its events, distinct pages used " +
          "(a bitset per VM: memory O(pages)) and writes.",
      )
      .argument("<file>", "trace file")
      .option("--json", "print one JSON object on stdout instead of the table"),
  )
    .option("--no-progress", "no progress bar on stderr")
    .action(async (file: string, options: InspectCommandOptions) => {
      await runTraceInspect(file, options);
    });
}
