#!/usr/bin/env node
// The `overcommit` command line: parses arguments (commander) and dispatches to the jobs.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { parsePositiveInt, parsePositiveNumber, parseScale, parseSeed, parseTaxes, seedOption } from "./options.ts";
import { addTraceInputOptions, registerTraceCommands, traceOpenOptions, type TraceInputCommandOptions } from "./trace.ts";
import { registerSweepCommands } from "./sweep.ts";
import { registerClusterCommand } from "./cluster.ts";
import { registerDistributedCommands } from "./distributed.ts";
import { runReplayCommand, type ReplayCommandOptions } from "./replay.ts";
import { OvercommitError } from "../core/errors.ts";
import { runScanCommand } from "./scan.ts";
import { runDemo } from "./demo.ts";
import { runRunCommand } from "./run.ts";
import { registerReportCommand } from "./report.ts";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("overcommit")
    .description(
      "A page-level emulator of a hypervisor's memory manager (ESX-style): transparent page sharing,\n" +
        "copy-on-write, memory compression, host swapping and ballooning, byte-exact in WebAssembly.",
    )
    .showHelpAfterError("(run with --help for usage)");

  program
    .command("scan")
    .description(
      "Load memory images, one VM each, and run content-based page sharing until a full pass shares nothing new. " +
        "An image is raw 4 KiB pages with no header (QEMU pmemsave output, a .vmem, a process dump), optionally gzip-compressed.",
    )
    .argument("<image...>", "image files")
    .option("--json", "print exactly one JSON object on stdout instead of the table")
    .addOption(seedOption("seed of the random scan order"))
    .option("--compress", "also count unshared pages whose LZ4 block fits a 2 KiB compression-cache slot")
    .option(
      "--max-page-sharing <n>",
      "at most n pages share one frame; more copies get another frame, like Linux KSM's max_page_sharing (KSM's default is 256; ours: unlimited)",
      parsePositiveInt,
    )
    .option("--report <file>", "also write a self-contained HTML report: per-image bars and who shares with whom")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (images: string[], options: { json?: boolean; seed: bigint; compress?: boolean; maxPageSharing?: number; report?: string; progress: boolean }) => {
      await runScanCommand(images, options);
    });

  program
    .command("run", { isDefault: true })
    .description(
      "Run a scenario over simulated time: free-memory states, shares and the idle memory tax, ballooning, " +
        "compression, host swap and sharing. Without a scenario: the seeds' story (host 4 GiB, two VMs of 4 GiB), " +
        "scaled to 1/8, with the idle memory tax at 0 and at 0.75 side by side (what `npm start` shows).",
    )
    .argument("[scenario]", "scenario JSON file")
    .option("--tax <list>", "idle memory tax rates to run, comma-separated (e.g. 0,0.75)", parseTaxes)
    .option("--scale <factor>", "multiply every memory size and rate (e.g. 1/8) to fit the 4 GiB WASM memory", parseScale)
    .addOption(seedOption("override the scenario's seed", undefined))
    .option("--duration <seconds>", "override the simulated duration", parsePositiveInt)
    .addOption(new Option("--content <mode>", "frames hold page bytes, or 64-bit content fingerprints (same counters; hosts of hundreds of GiB)").choices(["bytes", "fingerprints"]))
    .option("--metrics <file>", "write esxtop-style CSV metrics of the (last) run")
    .option("--json", "print one JSON object (summary per run) instead of the story")
    .option("--events", "with --json: include every event")
    .option("--report <file>", "write a self-contained HTML report (summary and plots); the built-in story writes out/overcommit-report.html by default")
    .option("--no-report", "write no HTML report")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (scenario: string | undefined, options: { tax?: number[]; content?: "bytes" | "fingerprints"; scale?: number; seed?: bigint; duration?: number; metrics?: string; report?: string | boolean; json?: boolean; events?: boolean; progress: boolean }) => {
      await runRunCommand({
        ...(options.content !== undefined ? { content: options.content } : {}),
        ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
        ...(typeof options.report === "string" || options.report === false ? { report: options.report } : {}),
        ...(scenario !== undefined ? { scenario } : {}),
        ...(options.tax ? { taxes: options.tax } : {}),
        ...(options.scale !== undefined ? { scale: options.scale } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.duration !== undefined ? { durationSec: options.duration } : {}),
        json: options.json ?? false,
        events: options.events ?? false,
        progress: options.progress,
      });
    });

  const replay = program
    .command("replay")
    .description(
      "Replay a memory trace (binary, JSON Lines, Valgrind lackey or page fingerprints) on a simulated host, streaming it " +
        "with constant memory; the host's policies run every simulated second. Ctrl-C stops cleanly and still writes what it has.",
    )
    .argument("<trace>", "trace file")
    .option("--scenario <file>", "host and VM settings (VMs matched to the trace's by name)")
    .option("--host-mib <MiB>", "host memory (default: the scenario's, or the sum of the trace's VMs: no overcommit)", parsePositiveNumber)
    .option("--metrics <file>", "write esxtop-style CSV metrics (one row per VM per sample plus a host row)")
    .option("--metrics-interval <seconds>", "simulated seconds between metrics samples", parsePositiveNumber, 10)
    .addOption(seedOption("seed of the host's random choices", undefined))
    .option("--verify", "remember every page's content and check it at the end (slower; more memory)")
    .option("--json", "print one JSON summary on stdout")
    .option("--report <file>", "write a self-contained HTML report (summary and plots over simulated time)")
    .option("--no-progress", "no progress bar on stderr")
    .action(async (trace: string, options: ReplayCommandOptions & TraceInputCommandOptions & { metricsInterval: number; progress: boolean }) => {
      await runReplayCommand(trace, { ...options, open: traceOpenOptions(options) });
    });
  addTraceInputOptions(replay);

  registerTraceCommands(program);
  registerReportCommand(program);
  registerSweepCommands(program);
  registerClusterCommand(program);
  registerDistributedCommands(program);

  program
    .command("demo")
    .description("Scan a built-in demo: several generated VMs booted from the same OS content")
    .option("--vms <n>", "number of VMs", parsePositiveInt, 4)
    .option("--memory <MiB>", "memory per VM in MiB", parsePositiveInt, 64)
    .addOption(seedOption("seed of the generated content and the scan order"))
    .action((options: { vms: number; memory: number; seed: bigint }) => {
      process.stdout.write(`${runDemo({ vms: options.vms, memoryMiB: options.memory, seed: options.seed })}\n`);
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof OvercommitError) {
      process.stderr.write(`overcommit: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** True when this module is the program (also through npm's bin symlink), not imported. */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`overcommit: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
