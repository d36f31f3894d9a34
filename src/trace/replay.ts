// Streaming replay of a trace on a simulated host: events go to the machine in large batches
// straight through its command region, and the host's policies run once per simulated second
// between them. Memory stays flat whatever the trace's size: only one chunk of events is held.
import { Op } from "../core/abi.ts";
import { OutOfFramesError } from "../core/errors.ts";
import { Host } from "../sim/host.ts";
import { parseScenario, type Scenario, type ScenarioInput } from "../sim/scenario.ts";
import type { TraceGuest } from "../policy/trace-guest.ts";
import { TraceOp, type TraceHeader, type TraceSource } from "./events.ts";

const MIB_PAGES = 256;

export interface ReplayProgress {
  readonly events: number;
  readonly simSec: number;
  readonly bytesRead: number;
  readonly totalBytes: number | undefined;
}

export interface ReplayOptions {
  /** Host and VM settings (VMs matched to the trace's by name). */
  scenario?: Scenario;
  /** Host memory when there is no scenario (default: the sum of the trace's VMs: no overcommit). */
  hostMiB?: number;
  seed?: bigint;
  metricsIntervalSec?: number;
  /** Remember every page's content seed so the run can be verified (costs 9 bytes per guest page). */
  trackContent?: boolean;
  /** Keep metrics samples in memory (default true). */
  keepMetrics?: boolean;
  onProgress?: (progress: ReplayProgress) => void;
  /** Called with the host once it exists (to subscribe to events or samples). */
  onHost?: (host: Host) => void;
  /** Stops the replay cleanly between chunks (Ctrl-C); the result holds what ran. */
  signal?: AbortSignal;
}

export interface ReplaySummary {
  readonly events: number;
  readonly simSec: number;
  readonly wallSeconds: number;
  readonly eventsPerSec: number;
  readonly interrupted: boolean;
  readonly stalls: number;
}

/** The scenario a trace replays under: the given one's host and VMs, plus the trace's VMs. */
export function scenarioForTrace(header: TraceHeader, options: ReplayOptions): Scenario {
  const base = options.scenario;
  const vms: ScenarioInput["vms"] = [];
  for (const vm of header.vms) {
    const configured = base?.vms.find((v) => v.name === vm.name);
    const traceMiB = vm.pages / MIB_PAGES;
    if (configured && configured.memoryMiB < traceMiB) {
      throw new RangeError(`VM "${vm.name}": the scenario gives it ${configured.memoryMiB} MiB but the trace needs ${traceMiB} MiB (${vm.pages} pages)`);
    }
    vms.push(configured ? { ...configured } : { name: vm.name, memoryMiB: traceMiB });
  }
  for (const vm of base?.vms ?? []) if (!header.vms.some((t) => t.name === vm.name)) vms.push({ ...vm });
  const totalMiB = vms.reduce((sum, vm) => sum + (vm.memoryMiB ?? 0), 0);
  const input: ScenarioInput = {
    name: base?.name ?? "replay",
    seed: options.seed !== undefined ? options.seed.toString() : (base?.seed ?? 1),
    durationSec: base?.durationSec ?? 1,
    host: base?.host ?? { memoryMiB: options.hostMiB ?? totalMiB },
    vms,
    timeline: base?.timeline ?? [],
    metrics: { intervalSec: options.metricsIntervalSec ?? base?.metrics.intervalSec ?? 10 },
  };
  if (options.hostMiB !== undefined && base) input.host = { ...base.host, memoryMiB: options.hostMiB };
  return parseScenario(input, "replay scenario");
}

/** Replays a trace to its end (or until aborted) on a new host. The caller disposes the host. */
export async function replayTrace(source: TraceSource, options: ReplayOptions = {}): Promise<{ host: Host; summary: ReplaySummary }> {
  const scenario = scenarioForTrace(source.header, options);
  const host = new Host(scenario, {
    traceVms: new Set(source.header.vms.map((vm) => vm.name)),
    trackContent: options.trackContent ?? false,
    keepMetrics: options.keepMetrics ?? true,
  });
  options.onHost?.(host);
  try {
    return { host, summary: await replayInto(host, source, options) };
  } catch (error) {
    host.dispose();
    throw error;
  }
}

/**
 * Replays a trace on an existing host whose trace-driven VMs carry the trace's VM names (made with
 * Host's `traceVms`). Steps the host through the trace's time; ends after the last event's second.
 */
export async function replayInto(host: Host, source: TraceSource, options: Pick<ReplayOptions, "onProgress" | "signal"> = {}): Promise<ReplaySummary> {
  const machine = host.machine;
  const vmIds = source.header.vms.map((vm) => {
    const id = host.vmId(vm.name);
    if (id === undefined || !host.traceGuest(id)) throw new RangeError(`trace VM "${vm.name}" is not a trace-driven VM of this host`);
    return id;
  });
  const guests = vmIds.map((id) => host.traceGuest(id) as TraceGuest);
  const started = performance.now();
  let words = machine.commandWords();
  const capacity = machine.commandRecords;
  let pending = 0;
  let events = 0;
  let stalls = 0;
  let interrupted = false;
  let nextSecondMs = 1000;

  const flush = (): void => {
    let from = 0;
    while (from < pending) {
      const outcome = machine.runCommands(pending, from);
      if (outcome.stop === "none") break;
      // No free frame: the host reclaims now, then the rest runs. Reclaiming uses the command
      // region too, so the records not yet run are set aside and put back.
      stalls++;
      const rest = machine.commandWords().slice(outcome.done * 4, pending * 4);
      if (host.makeRoom(pending - outcome.done) <= 0) {
        throw new OutOfFramesError(
          `replay at ${host.nowSec} s: machine memory (${machine.frames} frames) is full and nothing can be reclaimed ` +
            `(every VM is at its reservation, or its swap file is full): give the host more memory`,
        );
      }
      words = machine.commandWords();
      words.set(rest, 0);
      pending = rest.length / 4;
      from = 0;
    }
    pending = 0;
    words = machine.commandWords();
  };
  const command = (op: number, vm: number, gpn: number, low: number, high: number): void => {
    if (pending >= capacity) flush();
    const base = pending * 4;
    words[base] = ((op << 24) | vm) >>> 0;
    words[base + 1] = gpn;
    words[base + 2] = low;
    words[base + 3] = high;
    pending++;
  };

  {
    for await (const chunk of source.chunks()) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      const { timeMs, vm: vms, op: ops, gpn: gpns, pages: counts, argLow, argHigh } = chunk;
      for (let i = 0; i < chunk.count; i++) {
        const t = timeMs[i] ?? 0;
        if (t >= nextSecondMs) {
          flush();
          const second = Math.floor(t / 1000);
          while (second > host.nowSec) host.step();
          nextSecondMs = (host.nowSec + 1) * 1000;
          words = machine.commandWords();
        }
        const traceVm = vms[i] ?? 0;
        const vm = vmIds[traceVm] ?? 0;
        const guest = guests[traceVm] as TraceGuest;
        const op = ops[i];
        const first = gpns[i] ?? 0;
        const n = counts[i] ?? 0;
        switch (op) {
          case TraceOp.touch: {
            const head = ((Op.touch << 24) | vm) >>> 0;
            for (let p = first; p < first + n; p++) {
              if (guest.use(p)) command(Op.deflate, vm, p, 0, 0);
              if (pending >= capacity) flush();
              const base = pending << 2;
              words[base] = head;
              words[base + 1] = p;
              words[base + 2] = 0;
              words[base + 3] = 0;
              pending++;
            }
            break;
          }
          case TraceOp.write: {
            const low = argLow[i] ?? 0;
            const high = argHigh[i] ?? 0;
            for (let p = first; p < first + n; p++) {
              if (guest.use(p)) command(Op.deflate, vm, p, 0, 0);
              guest.setSeed(p, low, high);
              command(Op.writeSeed, vm, p, low, high);
            }
            break;
          }
          case TraceOp.writeBytes: {
            if (guest.use(first)) command(Op.deflate, vm, first, 0, 0);
            flush();
            guest.setUnknownContent(first);
            const bytes = chunk.bytes.get(i);
            if (bytes) {
              for (;;) {
                try {
                  machine.writePage(vm, first, bytes);
                  break;
                } catch (error) {
                  if (!(error instanceof OutOfFramesError) || host.makeRoom(1) <= 0) throw error;
                }
              }
            }
            words = machine.commandWords();
            break;
          }
          case TraceOp.alloc:
            for (const p of guest.allocate(first, n)) command(Op.deflate, vm, p, 0, 0);
            break;
          case TraceOp.free:
            guest.free(first, n);
            break;
          case TraceOp.balloon:
            host.setBalloonHint(vm, n === 0 ? undefined : n);
            break;
          case TraceOp.idle:
          case TraceOp.active:
            host.notePhase(vm, op === TraceOp.idle ? "idle" : "active", op === TraceOp.idle ? "goes idle (trace)" : "becomes active (trace)");
            break;
          case TraceOp.io: {
            const range = new Uint32Array(n);
            for (let k = 0; k < n; k++) {
              range[k] = first + k;
              if (guest.use(first + k)) command(Op.deflate, vm, first + k, 0, 0);
            }
            flush();
            host.issueIo(vm, range);
            words = machine.commandWords();
            break;
          }
        }
      }
      events += chunk.count;
      options.onProgress?.({ events, simSec: host.nowSec, bytesRead: source.bytesRead, totalBytes: source.totalBytes });
    }
    flush();
    host.step();
    host.sampleNow();
  }
  const wallSeconds = (performance.now() - started) / 1000;
  return { events, simSec: host.nowSec, wallSeconds, eventsPerSec: wallSeconds > 0 ? events / wallSeconds : 0, interrupted, stalls };
}
