// Every program in examples/ runs to completion (they import "overcommit", mapped to src/ here).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const examples = readdirSync(new URL("../examples/", import.meta.url)).filter((f) => f.endsWith(".ts"));

describe("examples", () => {
  it("has examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
  });
  for (const example of examples) {
    it(`examples/${example} runs`, async () => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", `examples/${example}`], { maxBuffer: 1 << 24 });
      expect(stdout.length).toBeGreaterThan(0);
      expect(stdout).not.toMatch(/NaN|undefined/);
    }, 120_000);
  }
});
