// Running a scenario to its end: a Host stepped for the scenario's duration, with progress, and a
// result holding the event log, the metrics and a final summary per VM.
import { Host, type HostEvent } from "./host.ts";
import type { HostSample, MetricsLog, VmSample } from "./metrics.ts";
import type { MemoryState } from "../policy/memory-state.ts";
import type { Scenario } from "./scenario.ts";
import { openTrace } from "../trace/open.ts";
import { replayInto } from "../trace/replay.ts";

export type VmSummary = ReturnType<Host["vmSummary"]>;

export interface RunResult {
  readonly name: string;
  readonly seed: string;
  readonly scale: number;
  readonly idleTax: number;
  readonly durationSec: number;
  readonly wallSeconds: number;
  readonly events: readonly HostEvent[];
  readonly metrics: MetricsLog;
  readonly stateSeconds: Readonly<Record<MemoryState, number>>;
  readonly vms: readonly VmSummary[];
  readonly host: {
    readonly memoryMiB: number;
    readonly freeMiB: number;
    readonly sharedSavedMiB: number;
    readonly thresholdsMiB: Readonly<Record<string, number>>;
    readonly io: { bounceCopies: number; remaps: number; copiesAvoided: number };
  };
}

export interface RunOptions {
  /** Called every simulated second. Return false to stop early (the result holds what ran). */
  onSecond?: (nowSec: number, host: Host) => boolean | void;
  /** Checks the core's bookkeeping and every guest page's content at the end (slow; for tests). */
  verify?: boolean;
  /** Called with every metrics sample as it is taken. */
  onSample?: (host: HostSample, vms: readonly VmSample[]) => void;
}

export function runScenario(scenario: Scenario, options: RunOptions = {}): RunResult {
  if (scenario.trace !== undefined || scenario.vms.some((vm) => vm.image !== undefined)) {
    throw new RangeError("this scenario loads images or a trace: run it with runScenarioAsync");
  }
  const host = new Host(scenario);
  if (options.onSample) host.onSample(options.onSample);
  const started = performance.now();
  try {
    for (let t = 0; t < scenario.durationSec; t++) {
      host.step();
      if (options.onSecond?.(host.nowSec, host) === false) break;
    }
    return resultOf(host, scenario, started, options);
  } finally {
    host.dispose();
  }
}

/**
 * Runs a scenario that may load memory images into its VMs and replay a trace into them: images
 * first, then the trace (its VMs follow it, the others the timeline), then the timeline alone
 * until the scenario's duration if the trace ended earlier.
 */
export async function runScenarioAsync(scenario: Scenario, options: RunOptions & { signal?: AbortSignal } = {}): Promise<RunResult> {
  const source = scenario.trace !== undefined ? await openTrace(scenario.trace) : undefined;
  if (source) {
    for (const vm of source.header.vms) {
      const configured = scenario.vms.find((v) => v.name === vm.name);
      if (!configured) throw new RangeError(`${source.path}: the trace's VM "${vm.name}" is not in the scenario (its VMs: ${scenario.vms.map((v) => v.name).join(", ")})`);
      if (configured.memoryMiB * 256 < vm.pages) {
        throw new RangeError(`${source.path}: VM "${vm.name}" needs ${vm.pages} pages but the scenario gives it ${configured.memoryMiB} MiB`);
      }
    }
  }
  const host = new Host(scenario, source ? { traceVms: new Set(source.header.vms.map((vm) => vm.name)) } : {});
  if (options.onSample) host.onSample(options.onSample);
  const started = performance.now();
  try {
    await host.loadImages();
    if (source) {
      await replayInto(host, source, {
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: () => options.onSecond?.(host.nowSec, host),
      });
    }
    while (host.nowSec < scenario.durationSec && !options.signal?.aborted) {
      host.step();
      if (options.onSecond?.(host.nowSec, host) === false) break;
    }
    return resultOf(host, scenario, started, options);
  } finally {
    host.dispose();
  }
}

function resultOf(host: Host, scenario: Scenario, started: number, options: RunOptions): RunResult {
  if (options.verify) host.machine.audit();
  const counters = host.machine.hostCounters();
  const thresholdsMiB: Record<string, number> = {};
  for (const [name, frames] of Object.entries(host.thresholds)) if (typeof frames === "number") thresholdsMiB[name] = frames / 256;
  return {
    name: scenario.name,
    seed: String(scenario.seed),
    scale: scenario.scale,
    idleTax: scenario.host.idleTax,
    durationSec: host.nowSec,
    wallSeconds: (performance.now() - started) / 1000,
    events: host.events,
    metrics: host.metrics,
    stateSeconds: { ...host.stateSeconds },
    vms: host.vmNames.map((_, vm) => host.vmSummary(vm)),
    host: {
      memoryMiB: host.machine.frames / 256,
      freeMiB: counters.framesFree / 256,
      sharedSavedMiB: counters.savedPages / 256,
      thresholdsMiB,
      io: { ...host.ioCounters },
    },
  };
}
