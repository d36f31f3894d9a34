// The `overcommit` command as a user runs it: output on stdout, errors on stderr with exit codes.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { EXPECTED, IMAGE_NAMES, imagePath } from "./helpers/fixtures.ts";

const run = promisify(execFile);
const CLI = ["--import", "tsx", "src/cli/main.ts"];

async function overcommit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], { cwd: process.cwd(), maxBuffer: 1 << 26 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("overcommit scan", () => {
  it("prints exactly one JSON object with the required fields", async () => {
    const { code, stdout } = await overcommit(["scan", "--json", "--seed", "5", ...IMAGE_NAMES.map(imagePath)]);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    for (const field of ["pages", "zeroPages", "sharedFrames", "savedPages", "scannedPages", "scanSeconds", "pagesPerSec"]) {
      expect(report).toHaveProperty(field);
    }
    expect(report.pages).toBe(EXPECTED.all?.pages);
    expect(report.savedPages).toBe(EXPECTED.all?.savedPages);
    expect(report.sharedFrames).toBe(EXPECTED.all?.sharedFrames);
    expect(report.zeroPages).toBe(EXPECTED.all?.zeroPages);
    expect(report).not.toHaveProperty("compressiblePages");
  });

  it("adds compressiblePages with --compress and prints a readable table without --json", async () => {
    const { code, stdout } = await overcommit(["scan", "--compress", imagePath("proc-dash-0.img"), imagePath("proc-dash-1.img")]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/saved pages\s+637/);
    expect(stdout).toMatch(/shared frames\s+547/);
    expect(stdout).toMatch(/compressible/);
  });

  it("names the file and its size when an image is not whole pages", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overcommit-cli-"));
    const bad = join(dir, "bad.img");
    writeFileSync(bad, new Uint8Array(5000));
    const { code, stdout, stderr } = await overcommit(["scan", bad]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain(bad);
    expect(stderr).toContain("5000");
    expect(stderr).toContain("4096");
  });

  it("rejects a bad seed with a usage error", async () => {
    const { code, stderr } = await overcommit(["scan", "--seed", "banana", imagePath("proc-dash-0.img")]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("banana");
  });

  it("explains itself in --help", async () => {
    const { code, stdout } = await overcommit(["scan", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("--json");
    expect(stdout).toContain("--seed");
    expect(stdout).toContain("--compress");
  });
});

describe("--help", () => {
  it("every command and subcommand explains itself, each option shown", async () => {
    const { buildProgram } = await import("../src/cli/main.ts");
    const commands = [buildProgram()];
    let checked = 0;
    while (commands.length > 0) {
      const command = commands.pop();
      if (!command) break;
      commands.push(...command.commands);
      const help = command.helpInformation();
      for (const option of command.options) expect(help, `${command.name()} --help`).toContain(option.long ?? option.flags);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });
});
