// Scenarios: a host, its VMs and a timeline of workload phases, as JSON. Validated with zod so
// that a bad file gets an error naming the field, what was expected and what was found.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { OvercommitError } from "../core/errors.ts";

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();
const percent = z.number().min(0).max(100);
const seedValue = z.union([z.number().int().nonnegative(), z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/, "a decimal or 0x-hex integer")]);

const settingsSchema = z
  .object({
    minFreePct: positive,
    thresholdsMiB: z.object({ high: nonNegative, clear: nonNegative, soft: nonNegative, hard: nonNegative, low: nonNegative }).partial().strict(),
    samplePeriodSec: positive,
    samplePages: z.number().int().positive(),
    ctlMaxPercent: percent,
    balloonRateMiBPerSec: positive,
    memZipMaxPct: percent,
    swapRateMiBPerSec: positive,
    shareScanTimeMin: positive,
    shareScanGHz: positive,
    hostCpuGHz: positive,
    shareRateMax: positive,
    allocationPeriodSec: positive,
    ioHotCopies: z.number().int().nonnegative(),
  })
  .partial()
  .strict();

const hostSchema = z
  .object({
    memoryMiB: positive,
    profile: z.enum(["esx4", "esxi5", "esxi6"]).default("esx4"),
    idleTax: z.number().min(0).lt(1).default(0.75),
    lowMemoryMiB: nonNegative.default(0),
    /**
     * "bytes": frames hold real page bytes. "fingerprints": frames hold 64-bit content seeds (hosts
     * of hundreds of GiB; same counters; memory images and raw-byte trace writes are refused).
     */
    content: z.enum(["bytes", "fingerprints"]).default("bytes"),
    settings: settingsSchema.default({}),
  })
  .strict();

const contentSchema = z
  .object({
    /** VMs with the same osSeed boot the same OS pages (and share them). */
    osSeed: seedValue.default(1),
    osZeroPct: percent.default(10),
    appZeroPct: percent.default(5),
    /** Share of application pages whose content compresses to 2 KiB or less. */
    compressiblePct: percent.default(50),
  })
  .strict();

const vmSchema = z
  .object({
    name: z.string().min(1),
    memoryMiB: positive,
    shares: positive.optional(),
    reservationMiB: nonNegative.default(0),
    limitMiB: positive.optional(),
    balloonDriver: z.boolean().default(true),
    content: contentSchema.default({ osSeed: 1, osZeroPct: 10, appZeroPct: 5, compressiblePct: 50 }),
    /** Fraction of touches that write new content. */
    writePct: percent.default(10),
    /** A raw memory image (whole 4 KiB pages, .gz accepted) loaded as the VM's first pages at time 0. */
    image: z.string().min(1).optional(),
  })
  .strict();

const at = { atSec: nonNegative, vm: z.string().min(1) };
const eventSchema = z.discriminatedUnion("action", [
  z.object({ ...at, action: z.literal("boot"), MiB: positive, rateMiBPerSec: positive.default(256) }).strict(),
  z.object({ ...at, action: z.literal("grow"), toMiB: positive, rateMiBPerSec: positive.default(32) }).strict(),
  z.object({ ...at, action: z.literal("free"), MiB: positive }).strict(),
  z.object({ ...at, action: z.literal("idle"), workingSetMiB: nonNegative.default(0) }).strict(),
  z.object({ ...at, action: z.literal("active"), workingSetMiB: positive, touchRateMiBPerSec: positive.optional() }).strict(),
  z.object({ ...at, action: z.literal("touch"), rateMiBPerSec: nonNegative }).strict(),
  z
    .object({ ...at, action: z.literal("io"), fromGpn: z.number().int().nonnegative(), pages: z.number().int().positive(), ratePerSec: positive, durationSec: positive.default(60) })
    .strict(),
]);

const metricsSchema = z.object({ intervalSec: positive.default(10) }).strict();

export const scenarioSchema = z
  .object({
    name: z.string().default("scenario"),
    description: z.string().optional(),
    seed: seedValue.default(1),
    durationSec: z.number().int().positive(),
    /** Multiply every memory size and rate by this (e.g. 0.125 to run a 4 GiB story in 512 MiB). */
    scale: z.number().positive().max(1).default(1),
    host: hostSchema,
    vms: z.array(vmSchema).min(1),
    timeline: z.array(eventSchema).default([]),
    metrics: metricsSchema.default({ intervalSec: 10 }),
    /** A trace replayed into the scenario's VMs (matched by name); its VMs follow it, not the timeline. */
    trace: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((scenario, ctx) => {
    const names = new Set<string>();
    scenario.vms.forEach((vm, i) => {
      if (names.has(vm.name)) ctx.addIssue({ code: "custom", path: ["vms", i, "name"], message: `duplicate VM name "${vm.name}"` });
      names.add(vm.name);
      if (vm.limitMiB !== undefined && vm.limitMiB > vm.memoryMiB) {
        ctx.addIssue({ code: "custom", path: ["vms", i, "limitMiB"], message: `limit ${vm.limitMiB} MiB exceeds the VM's memory ${vm.memoryMiB} MiB` });
      }
      if (vm.reservationMiB > (vm.limitMiB ?? vm.memoryMiB)) {
        ctx.addIssue({ code: "custom", path: ["vms", i, "reservationMiB"], message: `reservation ${vm.reservationMiB} MiB exceeds the VM's limit or memory` });
      }
    });
    scenario.timeline.forEach((event, i) => {
      if (!names.has(event.vm)) {
        ctx.addIssue({ code: "custom", path: ["timeline", i, "vm"], message: `unknown VM "${event.vm}": expected one of ${[...names].map((n) => `"${n}"`).join(", ")}` });
      }
    });
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type VmScenario = Scenario["vms"][number];
export type TimelineEvent = Scenario["timeline"][number];

export class ScenarioError extends OvercommitError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "ScenarioError";
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === "number" ? `[${key}]` : `${i === 0 ? "" : "."}${String(key)}`)).join("") || "(top level)";
}

/** The keys an object at `path` of a scenario may have, for "unrecognized key" errors. */
function allowedKeys(input: unknown, path: readonly PropertyKey[], prefix: readonly PropertyKey[] = []): string[] {
  // A lone VM or event is checked as if it stood in a scenario's vms or timeline.
  const root: PropertyKey[] = prefix[0] === "vm" ? ["vms", 0] : prefix[0] === "event" ? ["timeline", 0] : [];
  const where = [...root, ...path].map((key) => (typeof key === "number" ? "#" : String(key))).join(".");
  if (root.length > 0) input = root[0] === "vms" ? { vms: [input] } : { timeline: [input] };
  const shapes: Record<string, object> = {
    "": scenarioSchema.shape,
    host: hostSchema.shape,
    "host.settings": settingsSchema.shape,
    "host.settings.thresholdsMiB": settingsSchema.shape.thresholdsMiB.unwrap().shape,
    "vms.#": vmSchema.shape,
    "vms.#.content": contentSchema.shape,
    metrics: metricsSchema.shape,
  };
  if (where === "timeline.#") {
    const action = valueAt(input, [...root, ...path, "action"]);
    const event = eventSchema.options.find((option) => option.shape.action.value === action);
    return event ? Object.keys(event.shape) : [];
  }
  const shape = shapes[where];
  return shape ? Object.keys(shape) : [];
}

/** Validates a scenario object; `source` names it in errors (a file name). */
export function parseScenario(input: unknown, source = "scenario"): Scenario {
  const result = scenarioSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ScenarioError(`${source}: invalid scenario\n${describeIssues(result.error.issues, input)}`);
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, prefix: readonly PropertyKey[] = []): string {
  const lines = issues.slice(0, 8).map((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeys(input, issue.path, prefix);
      const expected = allowed.length > 0 ? `: expected only ${allowed.map((k) => `"${k}"`).join(", ")}` : "";
      return `  ${formatPath(path)}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}${expected}`;
    }
    return `  ${formatPath(path)}: ${issue.message.replace(/^Invalid input: /, "")}, found ${describeValue(valueAt(input, issue.path))}`;
  });
  const more = issues.length > 8 ? `\n  ... and ${issues.length - 8} more` : "";
  return `${lines.join("\n")}${more}`;
}

export type VmScenarioInput = z.input<typeof vmSchema>;
export type TimelineEventInput = z.input<typeof eventSchema>;

/** Validates one VM's settings (as in a scenario's `vms`), for Host.addVm. */
export function parseVm(input: unknown): VmScenario {
  const result = vmSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ScenarioError(`invalid VM\n${describeIssues(result.error.issues, input, ["vm"])}`);
}

/** Validates one timeline event (as in a scenario's `timeline`), for Host.schedule. */
export function parseTimelineEvent(input: unknown): TimelineEvent {
  const result = eventSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ScenarioError(`invalid timeline event\n${describeIssues(result.error.issues, input, ["event"])}`);
}

/** Reads and validates a scenario JSON file; image and trace paths are taken relative to it. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ScenarioError(`${path}: cannot read: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ScenarioError(`${path}: not valid JSON: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
  const scenario = parseScenario(json, path);
  const base = dirname(resolve(path));
  const at = (file: string): string => (isAbsolute(file) ? file : resolve(base, file));
  return {
    ...scenario,
    ...(scenario.trace !== undefined ? { trace: at(scenario.trace) } : {}),
    vms: scenario.vms.map((vm) => (vm.image !== undefined ? { ...vm, image: at(vm.image) } : vm)),
  };
}

export function seedOf(scenario: Pick<Scenario, "seed">): bigint {
  return BigInt(scenario.seed);
}
