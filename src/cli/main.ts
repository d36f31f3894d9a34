#!/usr/bin/env node
// The `overcommit` command line: parses arguments (commander) and dispatches to the jobs.
import { Command, Option, InvalidArgumentError as CommanderArgumentError } from "commander";
import { OvercommitError } from "../core/errors.ts";
import { runScanCommand } from "./scan.ts";
import { runDemo } from "./demo.ts";
import { runRunCommand } from "./run.ts";

function parseSeed(value: string): bigint {
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(value)) throw new CommanderArgumentError(`expected a non-negative integer (decimal or 0x hex), found "${value}"`);
  const seed = BigInt(value);
  if (seed >= 1n << 64n) throw new CommanderArgumentError(`expected a seed below 2^64, found ${value}`);
  return seed;
}

/** A --seed option: commander cannot print a BigInt default, so it gets a text description. */
function seedOption(description: string): Option {
  return new Option("--seed <n>", description).argParser(parseSeed).default(1n, "1");
}

function parseTaxes(value: string): number[] {
  const taxes = value.split(",").map((part) => Number(part.trim()));
  if (taxes.length === 0 || taxes.some((t) => !(t >= 0 && t < 1))) {
    throw new CommanderArgumentError(`expected tax rates from 0 to below 1, separated by commas, found "${value}"`);
  }
  return taxes;
}

function parseScale(value: string): number {
  const fraction = /^1\/(\d+)$/.exec(value);
  const scale = fraction ? 1 / Number(fraction[1]) : Number(value);
  if (!(scale > 0 && scale <= 1)) throw new CommanderArgumentError(`expected a scale in (0, 1], e.g. 0.125 or 1/8, found "${value}"`);
  return scale;
}

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CommanderArgumentError(`expected a positive integer, found "${value}"`);
  return n;
}

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
    .option("--no-progress", "no progress bar on stderr")
    .action(async (images: string[], options: { json?: boolean; seed: bigint; compress?: boolean; maxPageSharing?: number; progress: boolean }) => {
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
    .addOption(new Option("--seed <n>", "override the scenario's seed").argParser(parseSeed))
    .option("--duration <seconds>", "override the simulated duration", parsePositiveInt)
    .option("--json", "print one JSON object (summary per run) instead of the story")
    .option("--events", "with --json: include every event")
    .option("--no-progress", "no progress bar on stderr")
    .action((scenario: string | undefined, options: { tax?: number[]; scale?: number; seed?: bigint; duration?: number; json?: boolean; events?: boolean; progress: boolean }) => {
      runRunCommand({
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

const invokedDirectly = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop() ?? "");
if (invokedDirectly) {
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
