// Every program in examples/ runs to completion (they import "overcommit", mapped to src/ here).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const examples = readdirSync(new URL("../examples/", import.meta.url)).filter((f) => f.endsWith(".ts"));

/** What each example must print: the figures it exists to show. */
const EXPECTED_OUTPUT: Record<string, RegExp[]> = {
  "machine-basics.ts": [/100 shared frames, 100 pages saved/, /page b:0 is private, page a:0 is private, COW breaks 1/, /page 200 compressed, page 1 incompressible/, /page 2 is swapped/],
  "host-from-code.ts": [/host state high -> soft/, /web balloon inflating/, /^web: consumed [\d.]+ MiB/m, /^batch: consumed [\d.]+ MiB/m],
  "replay-generated.ts": [/^400000 events over 120 simulated seconds/m, /^vm4: GRANT/m],
  "scan-images.ts": [/3720 pages, 131 zero, 1306 shared frames \(KSM pages_shared\), 1435 saved/],
};

describe("examples", () => {
  it("has an expectation for every example", () => {
    expect(examples.sort()).toEqual(Object.keys(EXPECTED_OUTPUT).sort());
  });
  for (const example of examples) {
    it(`examples/${example} runs`, async () => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", `examples/${example}`], { maxBuffer: 1 << 24 });
      expect(stdout).not.toMatch(/NaN|undefined/);
      for (const pattern of EXPECTED_OUTPUT[example] ?? [/./]) expect(stdout).toMatch(pattern);
    }, 120_000);
  }
});
