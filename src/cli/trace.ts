// `overcommit trace ...`: make, convert and look into traces.
import type { Command } from "commander";
import { InvalidArgumentError as CommanderArgumentError } from "commander";
import { parsePercent, parsePositiveNumber, seedOption } from "./options.ts";
import { BinaryTraceWriter } from "../trace/binary.ts";
import { generateTrace, type Workload } from "../trace/generate.ts";
import { createProgress } from "./progress.ts";
import { formatInt } from "./format.ts";

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
  const writer = new BinaryTraceWriter(options.out, source.header);
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
  process.stderr.write(`wrote ${formatInt(writer.eventsWritten)} events for ${options.vms} VMs to ${options.out}\n`);
}

export function registerTraceCommands(program: Command): void {
  const trace = program.command("trace").description("Make, convert and look into memory traces (binary, JSON Lines, Valgrind lackey, page fingerprints)");
  trace
    .command("gen")
    .description(
      "Generate a seeded synthetic binary trace: zipfian working sets (zipf), VMs booting the same OS content then zipf (boot), " +
        "or alternating active and idle phases (phases). Streams to the file; any size.",
    )
    .requiredOption("-o, --out <file>", "output file (binary trace)")
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
}
