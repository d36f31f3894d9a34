// Scenario validation (src/sim/scenario.ts): a bad scenario gets a ScenarioError whose message names
// its source, the field (as a path like vms[1].memoryMiB), what was expected and what was found;
// loadScenarioFile names the file when it cannot be read or is not JSON. Also: defaults fill in,
// parsing is idempotent (a parsed scenario parses to itself), seeds may be decimal or 0x-hex
// strings, and scaleScenario scales memory and rates but not times.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OvercommitError } from "../src/core/errors.ts";
import { scaleScenario } from "../src/sim/scale.ts";
import { loadScenarioFile, parseScenario, ScenarioError, seedOf, type ScenarioInput } from "../src/sim/scenario.ts";
import { SEEDS_STORY } from "../src/sim/seeds-story.ts";

type Json = Record<string, unknown>;

/** A valid scenario as plain JSON, to break one field at a time. */
function valid(): Json & { host: Json; vms: Json[]; timeline: Json[] } {
  return {
    durationSec: 60,
    host: { memoryMiB: 64 },
    vms: [
      { name: "web", memoryMiB: 32 },
      { name: "db", memoryMiB: 32 },
    ],
    timeline: [{ atSec: 0, vm: "web", action: "boot", MiB: 8 }],
  };
}

/** Parses `input`, expecting a ScenarioError whose message contains every part. */
function expectInvalid(input: unknown, parts: readonly (string | RegExp)[], source = "test.json"): string {
  let caught: unknown;
  try {
    parseScenario(input, source);
  } catch (error) {
    caught = error;
  }
  expect(caught, "expected a ScenarioError").toBeInstanceOf(ScenarioError);
  const error = caught as ScenarioError;
  expect(error).toBeInstanceOf(OvercommitError);
  expect(error.code).toBe("INVALID_ARGUMENT");
  expect(error.message).toContain(`${source}: invalid scenario`);
  for (const part of parts) expect(error.message).toMatch(part);
  return error.message;
}

describe("parseScenario errors name the field, what was expected and what was found", () => {
  it("a value of the wrong type", () => {
    const s = valid();
    (s.vms[1] as Json).memoryMiB = "lots";
    expectInvalid(s, ["vms[1].memoryMiB", "expected number", 'found "lots"']);
  });

  it("a value out of range", () => {
    const s = valid();
    s.host.idleTax = 1;
    expectInvalid(s, ["host.idleTax", "<1", "found 1"]);
    const t = valid();
    t.host.settings = { ctlMaxPercent: 150 };
    expectInvalid(t, ["host.settings.ctlMaxPercent", "<=100", "found 150"]);
    const u = valid();
    (u.vms[0] as Json).memoryMiB = -1;
    expectInvalid(u, ["vms[0].memoryMiB", ">0", "found -1"]);
  });

  it("a missing field", () => {
    const s: Json = valid();
    delete s.durationSec;
    expectInvalid(s, ["durationSec", "expected number", "found nothing"]);
  });

  it("an unknown VM in the timeline", () => {
    const s = valid();
    s.timeline.push({ atSec: 5, vm: "cache", action: "grow", toMiB: 16 });
    expectInvalid(s, ["timeline[1].vm", 'unknown VM "cache"', 'expected one of "web", "db"', 'found "cache"']);
  });

  it("duplicate VM names", () => {
    const s = valid();
    (s.vms[1] as Json).name = "web";
    expectInvalid(s, ["vms[1].name", 'duplicate VM name "web"']);
  });

  it("a limit above the VM's memory, and a reservation above its limit", () => {
    const s = valid();
    (s.vms[0] as Json).limitMiB = 48;
    expectInvalid(s, ["vms[0].limitMiB", "limit 48 MiB exceeds the VM's memory 32 MiB", "found 48"]);
    const t = valid();
    Object.assign(t.vms[1] as Json, { limitMiB: 16, reservationMiB: 20 });
    expectInvalid(t, ["vms[1].reservationMiB", "reservation 20 MiB exceeds", "found 20"]);
  });

  it("an unknown key, with the keys that are allowed there", () => {
    expectInvalid({ ...valid(), colour: "blue" }, ["(top level)", 'unknown key "colour"', /expected only .*"durationSec"/]);
    const s = valid();
    (s.vms[0] as Json).memMiB = 3;
    expectInvalid(s, ["vms[0]", 'unknown key "memMiB"', /expected only .*"memoryMiB"/]);
    const t = valid();
    t.host.settings = { ctlMaxPct: 50 };
    expectInvalid(t, ["host.settings", 'unknown key "ctlMaxPct"', /expected only .*"ctlMaxPercent"/]);
    const u = valid();
    u.timeline.push({ atSec: 1, vm: "db", action: "grow", toMiB: 16, rate: 2 });
    expectInvalid(u, ["timeline[1]", 'unknown key "rate"', /expected only .*"rateMiBPerSec"/]);
  });

  it("an unknown action, profile or malformed seed", () => {
    const s = valid();
    s.timeline.push({ atSec: 1, vm: "db", action: "explode" });
    expectInvalid(s, ["timeline[1].action", /'boot' \| 'grow'/, 'found "explode"']);
    const t = valid();
    t.host.profile = "esx9";
    expectInvalid(t, ["host.profile", '"esx4"|"esxi5"|"esxi6"', 'found "esx9"']);
    expectInvalid({ ...valid(), seed: "0xZZ" }, ["seed", "a decimal or 0x-hex integer", 'found "0xZZ"']);
  });

  it("not an object at all; no VMs", () => {
    expectInvalid(42, ["(top level)", "expected object", "found 42"]);
    expectInvalid({ ...valid(), vms: [] }, ["vms", ">=1 items", "found []"]);
  });

  it("many problems: the first eight, then how many more", () => {
    const s = valid();
    s.vms = Array.from({ length: 6 }, () => ({ name: "", memoryMiB: -1 }));
    const message = expectInvalid(s, ["vms[0].name", "vms[0].memoryMiB", /\.\.\. and \d+ more/]);
    expect(message.split("\n").filter((line) => line.startsWith("  vms")).length).toBe(8);
  });
});

describe("loadScenarioFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "overcommit-scenario-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names the file that is not JSON, and the one that cannot be read", () => {
    const path = join(dir, "broken.json");
    writeFileSync(path, "{ durationSec: 60 ");
    expect(() => loadScenarioFile(path)).toThrow(ScenarioError);
    expect(() => loadScenarioFile(path)).toThrow(`${path}: not valid JSON`);
    const missing = join(dir, "missing.json");
    expect(() => loadScenarioFile(missing)).toThrow(`${missing}: cannot read`);
  });

  it("names the file in validation errors, and loads a valid one", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ...valid(), durationSec: "a minute" }));
    expect(() => loadScenarioFile(bad)).toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: invalid scenario\\n  durationSec: .*found "a minute"`));
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(valid()));
    expect(loadScenarioFile(good).vms.map((vm) => vm.name)).toEqual(["web", "db"]);
  });
});

describe("valid scenarios", () => {
  it("fill in the defaults", () => {
    const s = parseScenario(valid());
    expect(s.seed).toBe(1);
    expect(s.scale).toBe(1);
    expect(s.host).toMatchObject({ profile: "esx4", idleTax: 0.75, lowMemoryMiB: 0, settings: {} });
    expect(s.vms[0]).toMatchObject({ reservationMiB: 0, balloonDriver: true, writePct: 10, content: { osSeed: 1, osZeroPct: 10, appZeroPct: 5, compressiblePct: 50 } });
    expect(s.vms[0]?.limitMiB).toBeUndefined();
    expect(s.timeline[0]).toMatchObject({ action: "boot", MiB: 8, rateMiBPerSec: 256 });
    expect(s.metrics.intervalSec).toBe(10);
  });

  it("parse to themselves again; seeds may be decimal or 0x-hex strings", () => {
    const story = parseScenario(SEEDS_STORY);
    expect(parseScenario(story)).toEqual(story);
    expect(seedOf(parseScenario({ ...valid(), seed: "0xffffffffffffffff" }))).toBe(0xffffffffffffffffn);
    expect(seedOf(parseScenario({ ...valid(), seed: "12345678901234567890" }))).toBe(12345678901234567890n);
  });

  it("scale: memory and memory rates scale, times and fractions do not", () => {
    const input: ScenarioInput = {
      durationSec: 100,
      host: { memoryMiB: 4096, lowMemoryMiB: 64, settings: { balloonRateMiBPerSec: 8, thresholdsMiB: { soft: 100 } } },
      vms: [{ name: "a", memoryMiB: 4096, reservationMiB: 1024, limitMiB: 2048, writePct: 20 }],
      timeline: [
        { atSec: 10, vm: "a", action: "grow", toMiB: 3072, rateMiBPerSec: 32 },
        { atSec: 20, vm: "a", action: "io", fromGpn: 5, pages: 7, ratePerSec: 9 },
      ],
    };
    const scaled = scaleScenario(parseScenario(input), 1 / 16);
    expect(scaled.scale).toBe(1 / 16);
    expect(scaled.durationSec).toBe(100);
    expect(scaled.host).toMatchObject({ memoryMiB: 256, lowMemoryMiB: 4, settings: { balloonRateMiBPerSec: 0.5, thresholdsMiB: { soft: 6.25 } } });
    expect(scaled.vms[0]).toMatchObject({ memoryMiB: 256, reservationMiB: 64, limitMiB: 128, writePct: 20 });
    expect(scaled.timeline[0]).toMatchObject({ atSec: 10, toMiB: 192, rateMiBPerSec: 2 });
    expect(scaled.timeline[1]).toMatchObject({ atSec: 20, fromGpn: 5, pages: 7, ratePerSec: 9 });
    // A scaled scenario is still valid.
    expect(parseScenario(scaled)).toEqual(scaled);
    expect(() => scaleScenario(parseScenario(input), 2)).toThrow(/expected 0 < factor <= 1, found 2/);
  });
});
