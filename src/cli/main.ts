#!/usr/bin/env node
// The `overcommit` command line: parses arguments (commander) and dispatches to the jobs.
import { Command, Option, InvalidArgumentError as CommanderArgumentError } from "commander";
import { OvercommitError } from "../core/errors.ts";
import { runScanCommand } from "./scan.ts";
import { runDemo } from "./demo.ts";

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
    .option("--no-progress", "no progress bar on stderr")
    .action(async (images: string[], options: { json?: boolean; seed: bigint; compress?: boolean; progress: boolean }) => {
      await runScanCommand(images, options);
    });

  program
    .command("demo", { isDefault: true })
    .description("Scan a built-in demo: several generated VMs booted from the same OS content (what `npm start` runs)")
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
