// The package as a user gets it: `npm pack` (which builds dist/), installed into a fresh project,
// imported under plain Node (no tsx), a small scenario run, and the CLI run from node_modules/.bin.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "overcommit-pack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("npm package", () => {
  it("packs, installs, imports, runs a scenario and the CLI", async () => {
    await run("npm", ["pack", "--pack-destination", dir], { cwd: process.cwd(), maxBuffer: 1 << 26 });
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    const project = join(dir, "project");
    await run("mkdir", ["-p", project]);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "user-project", version: "1.0.0", type: "module", private: true }));
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball ?? "")], { cwd: project, maxBuffer: 1 << 26 });
    writeFileSync(
      join(project, "use.mjs"),
      `import { Host, Machine, runScenario, parseScenario } from "overcommit";
const m = Machine.create({ memoryMiB: 4, swap: "memory" });
const vm = m.addVm({ pages: 64 });
m.writeSeed(vm, 0, 5n); m.writeSeed(vm, 1, 5n);
m.scanToConvergence();
const result = runScenario(parseScenario({ durationSec: 30, host: { memoryMiB: 32 }, vms: [{ name: "a", memoryMiB: 16 }], timeline: [{ atSec: 0, vm: "a", action: "boot", MiB: 8 }] }));
console.log(JSON.stringify({ saved: m.hostCounters().savedPages, consumed: Math.round(result.vms[0].consumedMiB), host: typeof Host }));
m.dispose();
`,
    );
    const used = await run(process.execPath, ["use.mjs"], { cwd: project });
    expect(JSON.parse(used.stdout)).toEqual({ saved: 1, consumed: 8, host: "function" });
    const bin = join(project, "node_modules", ".bin", "overcommit");
    const help = await run(bin, ["--help"], { cwd: project });
    expect(help.stdout).toContain("scan");
    const scan = await run(bin, ["scan", "--json", join(process.cwd(), "test/fixtures/images/proc-dash-0.img.gz"), join(process.cwd(), "test/fixtures/images/proc-dash-1.img.gz")], { cwd: project });
    expect(JSON.parse(scan.stdout)).toMatchObject({ pages: 1348, savedPages: 637, sharedFrames: 547 });
  }, 300_000);
});
