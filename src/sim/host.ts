// A simulated ESX host: one Machine (the WASM core) and the policies that drive it over simulated
// time, one step per simulated second. Each step, in order:
//   1. the timeline's workload phases that are due start;
//   2. each guest works: boots and grows (new pages, blocked in the low state for VMs above
//      target), touches its working set (reads and writes), does I/O;
//   3. activity sampling, and the sharing scanner at its scheduled rate;
//   4. targets (entitlements) from shares and the idle memory tax, every allocation period;
//   5. the free-memory state; then the mechanisms it allows, in order: balloon (soft and worse),
//      compression then swap (hard and worse); limits are enforced in every state;
//   6. a metrics sample every interval.
// The same scenario and seed give the same run, byte for byte.
import { Machine, type VmCounters } from "../core/machine.ts";
import { PAGE_BYTES } from "../core/abi.ts";
import { ActivitySampler } from "../policy/activity.ts";
import { computeTargets, idleCostFactor, sharesPerPage, type AllocationRequest } from "../policy/allocation.ts";
import { BalloonDriver } from "../policy/balloon.ts";
import { GuestOs } from "../policy/guest-os.ts";
import { TraceGuest } from "../policy/trace-guest.ts";
import { IoRemapper } from "../policy/io-remap.ts";
import {
  allocationsBlocked, ballooningAllowed, nextState, stateFor, swappingAllowed, thresholdsFor,
  type MemoryState, type StateThresholds,
} from "../policy/memory-state.ts";
import { VmReclaimer } from "../policy/reclaim.ts";
import { DEFAULT_HOST_SETTINGS, type HostSettings } from "../policy/settings.ts";
import { ShareScanner } from "../policy/share-scanner.ts";
import { Random, deriveSeed } from "./random.ts";
import { imageInfo, loadImage } from "../trace/image.ts";
import { ImageFormatError } from "../core/errors.ts";
import type { HostSample, MetricsLog, VmSample } from "./metrics.ts";
import {
  parseScenario, parseTimelineEvent, parseVm, ScenarioError, seedOf,
  type Scenario, type ScenarioInput, type TimelineEvent, type TimelineEventInput, type VmScenario, type VmScenarioInput,
} from "./scenario.ts";

const MIB_PAGES = 1024 * 1024 / PAGE_BYTES;

export type HostEvent =
  | { readonly type: "phase"; readonly timeSec: number; readonly vm: string; readonly action: string; readonly detail: string }
  | { readonly type: "state"; readonly timeSec: number; readonly from: MemoryState; readonly to: MemoryState; readonly freeMiB: number }
  | { readonly type: "balloon"; readonly timeSec: number; readonly vm: string; readonly sizeMiB: number; readonly targetMiB: number; readonly change: "inflating" | "deflating" | "stopped" }
  | { readonly type: "reclaim"; readonly timeSec: number; readonly vm: string; readonly compressedPages: number; readonly swappedPages: number }
  | { readonly type: "blocked"; readonly timeSec: number; readonly vm: string; readonly blocked: boolean };

export type HostEventType = HostEvent["type"];
type Listener = (event: HostEvent) => void;

interface Workload {
  bootBacklog: number;
  bootRate: number;
  growTarget: number;
  growRate: number;
  workingSet: number;
  touchRate: number;
  io: { fromGpn: number; pages: number; ratePerSec: number; untilSec: number; credit: number }[];
}

/** One VM at run time: its spec, its guest, its policies and its running statistics. */
class VmRuntime {
  readonly pages: number;
  readonly shares: number;
  readonly reservationPages: number;
  readonly limitPages: number;
  /** The scenario-driven guest OS model, or undefined for a trace-driven VM. */
  readonly guest: GuestOs | undefined;
  /** The trace-driven guest, or undefined for a scenario-driven VM. */
  readonly traceGuest: TraceGuest | undefined;
  readonly balloon: BalloonDriver;
  /** A trace's balloon hint: the balloon target in pages, overriding the policy while set. */
  balloonHint: number | undefined;
  readonly sampler: ActivitySampler;
  readonly reclaimer: VmReclaimer;
  readonly random: Random;
  readonly contentRandom: Random;
  readonly workload: Workload = { bootBacklog: 0, bootRate: 0, growTarget: 0, growRate: 0, workingSet: 0, touchRate: 0, io: [] };
  osPagesBooted = 0;
  targetPages: number;
  blocked = false;
  blockedSeconds = 0;
  trueActiveFraction = 0;
  balloonChange: "inflating" | "deflating" | "stopped" = "stopped";
  previous: VmCounters;
  previousGuest = { pageOuts: 0, pageIns: 0 };

  constructor(
    readonly id: number,
    readonly spec: VmScenario,
    machine: Machine,
    settings: HostSettings,
    seed: bigint,
    traceDriven: { trackContent: boolean } | undefined,
  ) {
    this.pages = machine.vmPages(id);
    this.shares = spec.shares ?? spec.memoryMiB * 10;
    this.reservationPages = Math.floor(spec.reservationMiB * MIB_PAGES);
    this.limitPages = Math.floor((spec.limitMiB ?? spec.memoryMiB) * MIB_PAGES);
    this.guest = traceDriven ? undefined : new GuestOs(machine, id);
    this.traceGuest = traceDriven ? new TraceGuest(machine, id, traceDriven) : undefined;
    this.balloonHint = undefined;
    const balloonGuest = this.guest ?? this.traceGuest;
    if (!balloonGuest) throw new Error("unreachable: a VM has a guest");
    this.balloon = new BalloonDriver(machine, balloonGuest, spec.balloonDriver, settings.ctlMaxPercent, Math.max(1, Math.round(settings.balloonRateMiBPerSec * MIB_PAGES)));
    this.random = new Random(deriveSeed(seed, id * 7 + 1));
    this.contentRandom = new Random(deriveSeed(seed, id * 7 + 2));
    this.sampler = new ActivitySampler(machine, id, { samplePeriodSec: settings.samplePeriodSec, samplePages: settings.samplePages }, new Random(deriveSeed(seed, id * 7 + 3)));
    this.reclaimer = new VmReclaimer(machine, id, settings.memZipMaxPct);
    this.targetPages = this.limitPages;
    this.previous = machine.vmCounters(id);
  }
}

/** 32-bit mixing (murmur3 finaliser), for content seeds derived without BigInt. */
function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Host {
  readonly machine: Machine;
  readonly settings: HostSettings;
  readonly thresholds: StateThresholds;
  readonly seed: bigint;
  readonly idleTax: number;
  private readonly vms: VmRuntime[] = [];
  private readonly byName = new Map<string, VmRuntime>();
  private readonly scanner: ShareScanner;
  private readonly io: IoRemapper;
  private readonly timeline: TimelineEvent[];
  private timelineIndex = 0;
  private readonly listeners = new Map<HostEventType, Set<Listener>>();
  readonly events: HostEvent[] = [];
  readonly metrics: MetricsLog;
  private readonly reclaimRandom: Random;
  private readonly keepMetrics: boolean;
  private readonly traceVms: ReadonlySet<string>;
  private readonly trackContent: boolean;
  private readonly sampleListeners = new Set<(host: HostSample, vms: readonly VmSample[]) => void>();
  private nowSecValue = 0;
  private stateValue: MemoryState = "high";
  private scannedSinceSample = 0;
  private lastSampleSec = 0;
  readonly stateSeconds: Record<MemoryState, number> = { high: 0, clear: 0, soft: 0, hard: 0, low: 0 };

  constructor(
    readonly scenario: Scenario,
    options: {
      swapDirectory?: string;
      /** Names of VMs driven by a trace instead of the scenario's timeline. */
      traceVms?: ReadonlySet<string>;
      /** Trace-driven VMs remember each page's content seed, so content can be verified. */
      trackContent?: boolean;
      /** Keep every metrics sample in `metrics` (default true; long runs can stream them instead). */
      keepMetrics?: boolean;
      /** Room for VMs added later with addVm (default 64, or the scenario's count if larger). */
      maxVms?: number;
      /** Swap to files (default, Node) or keep swapped pages in memory. */
      swap?: "file" | "memory";
    } = {},
  ) {
    this.seed = seedOf(scenario);
    this.settings = { ...DEFAULT_HOST_SETTINGS, ...scenario.host.settings, profile: scenario.host.profile };
    this.idleTax = scenario.host.idleTax;
    idleCostFactor(this.idleTax);
    const frames = Math.floor(scenario.host.memoryMiB * MIB_PAGES);
    this.machine = Machine.create({
      frames,
      lowFrames: Math.floor(scenario.host.lowMemoryMiB * MIB_PAGES),
      maxVms: Math.max(1, scenario.vms.length, options.maxVms ?? 64),
      content: scenario.host.content,
      ...(options.swapDirectory !== undefined ? { swapDirectory: options.swapDirectory } : {}),
      ...(options.swap !== undefined ? { swap: options.swap } : {}),
    });
    this.thresholds = thresholdsFor(frames, this.settings);
    this.traceVms = options.traceVms ?? new Set<string>();
    this.trackContent = options.trackContent ?? false;
    for (const spec of scenario.vms) this.addVmRuntime(spec);    this.scanner = new ShareScanner(this.machine, this.settings, deriveSeed(this.seed, 1_000_001));
    this.io = new IoRemapper(this.machine, this.settings.ioHotCopies);
    this.timeline = [...scenario.timeline].sort((a, b) => a.atSec - b.atSec);
    this.reclaimRandom = new Random(deriveSeed(this.seed, 1_000_002));
    this.metrics = { intervalSec: scenario.metrics.intervalSec, host: [], vms: [] };
    this.keepMetrics = options.keepMetrics ?? true;
    this.stateValue = stateFor(this.machine.hostCounter("framesFree"), this.thresholds);
  }

  get nowSec(): number {
    return this.nowSecValue;
  }

  get state(): MemoryState {
    return this.stateValue;
  }

  get vmNames(): string[] {
    return this.vms.map((vm) => vm.spec.name);
  }

  /** Subscribes to one kind of event; returns the unsubscribe function. */
  on(type: HostEventType, listener: Listener): () => void {
    const set = this.listeners.get(type) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(type, set);
    return () => set.delete(listener);
  }

  /**
   * Creates a host from a scenario object (validated; see Scenario) or an already parsed one.
   * Use `new Host(...)` for the trace options.
   */
  static fromScenario(input: ScenarioInput | Scenario, options: { swap?: "file" | "memory"; maxVms?: number } = {}): Host {
    return new Host(parseScenario(input, "scenario"), options);
  }

  /** Adds a VM now (validated like a scenario's `vms` entry). Returns its id. */
  addVm(input: VmScenarioInput): number {
    const spec = parseVm(input);
    if (this.byName.has(spec.name)) throw new ScenarioError(`VM "${spec.name}" already exists`);
    return this.addVmRuntime(spec).id;
  }

  /** Schedules a workload phase (validated like a scenario's `timeline` entry); `atSec` before now means now. */
  schedule(input: TimelineEventInput): void {
    const event = parseTimelineEvent(input);
    if (!this.byName.has(event.vm)) {
      throw new ScenarioError(`timeline event: unknown VM "${event.vm}": expected one of ${this.vmNames.map((n) => `"${n}"`).join(", ")}`);
    }
    const at = Math.max(event.atSec, this.nowSecValue);
    let i = this.timelineIndex;
    while (i < this.timeline.length && (this.timeline[i]?.atSec ?? 0) <= at) i++;
    this.timeline.splice(i, 0, { ...event, atSec: at });
  }

  private addVmRuntime(spec: VmScenario): VmRuntime {
    const id = this.machine.addVm({ name: spec.name, pages: Math.floor(spec.memoryMiB * MIB_PAGES) });
    const traced = this.traceVms.has(spec.name) ? { trackContent: this.trackContent } : undefined;
    const vm = new VmRuntime(id, spec, this.machine, this.settings, this.seed, traced);
    this.vms.push(vm);
    this.byName.set(spec.name, vm);
    return vm;
  }

  /**
   * Loads each VM's memory image (scenario `image`) into its first pages, streamed, and tells its
   * guest that those pages hold data. Call once, before the first step.
   */
  async loadImages(): Promise<void> {
    for (const vm of this.vms) {
      if (vm.spec.image === undefined) continue;
      const info = await imageInfo(vm.spec.image);
      if (info.pages > vm.pages) {
        throw new ImageFormatError(info.path, `${info.pages} pages do not fit VM "${vm.spec.name}" of ${vm.pages} pages`);
      }
      await loadImage(this.machine, vm.id, info);
      if (vm.guest) vm.guest.adoptLoadedPages(info.pages);
      else vm.traceGuest?.allocate(0, info.pages);
      this.emit({ type: "phase", timeSec: this.nowSecValue, vm: vm.spec.name, action: "image", detail: `loads ${info.pages} pages from ${info.path}` });
    }
  }

  /** Calls `listener` with every metrics sample (host row and one row per VM); returns the unsubscribe. */
  onSample(listener: (host: HostSample, vms: readonly VmSample[]) => void): () => void {
    this.sampleListeners.add(listener);
    return () => this.sampleListeners.delete(listener);
  }

  /** Takes a metrics sample now (also done every interval); e.g. at the end of a replay. */
  sampleNow(): void {
    if (this.nowSecValue > this.lastSampleSec) this.sample();
  }

  /** Runs `seconds` simulated seconds. */
  run(seconds: number, onSecond?: (nowSec: number) => void): void {
    for (let i = 0; i < seconds; i++) {
      this.step();
      onSecond?.(this.nowSecValue);
    }
  }

  /** One simulated second. */
  step(): void {
    const now = this.nowSecValue;
    this.applyTimeline(now);
    for (const vm of this.vms) if (vm.guest) this.guestWork(vm, vm.guest, now);
    for (const vm of this.vms) {
      vm.sampler.tick(now);
      if (now % this.settings.samplePeriodSec === 0) {
        const guest = vm.guest ?? vm.traceGuest;
        vm.trueActiveFraction = (guest?.touchedPages ?? 0) / vm.pages;
        guest?.resetTouched();
      }
    }
    const scannedBefore = this.scanner.pagesScanned;
    this.scanner.tick();
    this.scannedSinceSample += this.scanner.pagesScanned - scannedBefore;
    if (now % this.settings.allocationPeriodSec === 0) this.updateTargets();
    this.updateState(now);
    this.reclaim(now);
    this.stateSeconds[this.stateValue]++;
    this.nowSecValue = now + 1;
    if (this.nowSecValue - this.lastSampleSec >= this.metrics.intervalSec) this.sample();
  }

  /** Pages of machine memory the VM consumes: private frames, its part of shared frames, cache frames. */
  consumedPages(vm: number): number {
    const m = this.machine;
    const pagesSharing = m.hostCounter("pagesSharing");
    const shared = m.vmCounter(vm, "sharedPages");
    const sharedPart = pagesSharing > 0 && shared > 0 ? (shared * m.hostCounter("sharedFrames")) / pagesSharing : 0;
    return m.vmCounter(vm, "privatePages") + sharedPart + m.vmCounter(vm, "zipCacheFrames");
  }

  /** What the guest model says page (vm, gpn) must read as: a content seed, or undefined (anything). */
  expectedSeed(vm: number, gpn: number): bigint | undefined {
    const runtime = this.vmRuntime(vm);
    return (runtime.guest ?? runtime.traceGuest)?.expectedSeed(gpn);
  }

  /** The scenario-driven guest OS model of a VM (throws for a trace-driven VM). */
  guest(vm: number): GuestOs {
    const guest = this.vmRuntime(vm).guest;
    if (!guest) throw new RangeError(`VM ${vm} is driven by a trace: it has no guest OS model`);
    return guest;
  }

  /** The trace-driven guest of a VM, or undefined for a scenario-driven VM. */
  traceGuest(vm: number): TraceGuest | undefined {
    return this.vmRuntime(vm).traceGuest;
  }

  /** A VM's id by name, or undefined. */
  vmId(name: string): number | undefined {
    return this.byName.get(name)?.id;
  }

  /** A trace's balloon hint: the VM's balloon target (pages) from now on; undefined hands it back to the policy. */
  setBalloonHint(vm: number, pages: number | undefined): void {
    this.vmRuntime(vm).balloonHint = pages;
  }

  /** Reports a phase change of a trace-driven VM (idle, active) as an event. */
  notePhase(vm: number, action: string, detail: string): void {
    this.emit({ type: "phase", timeSec: this.nowSecValue, vm: this.vmRuntime(vm).spec.name, action, detail });
  }

  /**
   * Machine memory ran out in the middle of a second (a trace's burst): reclaim now, by compression
   * and swap from the VMs above target, or from the largest consumers if none is. Returns the
   * frames freed (0: nothing could be reclaimed).
   */
  makeRoom(wantedFrames: number): number {
    const now = this.nowSecValue;
    this.updateState(now);
    const before = this.machine.hostCounter("framesFree");
    const want = Math.max(wantedFrames, Math.round(this.settings.swapRateMiBPerSec * MIB_PAGES) / 10, 16);
    const consumers = this.vms
      .map((vm) => ({ vm, excess: this.consumedPages(vm.id) - Math.max(vm.targetPages, vm.reservationPages), consumed: this.consumedPages(vm.id) - vm.reservationPages }))
      .filter((c) => c.consumed > 0)
      .sort((a, b) => b.excess - a.excess || b.consumed - a.consumed);
    for (const { vm } of consumers) {
      const freed = this.machine.hostCounter("framesFree") - before;
      if (freed >= want) break;
      this.reclaimFrom(vm, Math.ceil(want - freed), now);
    }
    return this.machine.hostCounter("framesFree") - before;
  }

  /** A summary of one VM now. */
  vmSummary(vm: number): {
    name: string; configuredMiB: number; consumedMiB: number; targetMiB: number; balloonMiB: number; swappedMiB: number;
    compressedMiB: number; sharedMiB: number; activeEstimate: number; activeTrue: number; rho: number; blockedSeconds: number;
    guestPageOuts: number; guestPageIns: number; doublePaging: number; swapIns: number; swapOuts: number;
  } {
    const runtime = this.vmRuntime(vm);
    const c = this.machine.vmCounters(vm);
    const consumed = this.consumedPages(vm);
    return {
      name: runtime.spec.name,
      configuredMiB: runtime.pages / MIB_PAGES,
      consumedMiB: consumed / MIB_PAGES,
      targetMiB: runtime.targetPages / MIB_PAGES,
      balloonMiB: runtime.balloon.sizePages / MIB_PAGES,
      swappedMiB: c.swappedPages / MIB_PAGES,
      compressedMiB: c.compressedPages / MIB_PAGES,
      sharedMiB: c.sharedPages / MIB_PAGES,
      activeEstimate: runtime.sampler.estimate,
      activeTrue: runtime.trueActiveFraction,
      rho: this.rhoOf(runtime, consumed),
      blockedSeconds: runtime.blockedSeconds,
      guestPageOuts: runtime.guest?.counters.pageOuts ?? 0,
      guestPageIns: runtime.guest?.counters.pageIns ?? 0,
      doublePaging: runtime.guest?.counters.doublePaging ?? 0,
      swapIns: c.swapIns,
      swapOuts: c.swapOuts,
    };
  }

  get ioCounters(): IoRemapper["counters"] {
    return this.io.counters;
  }

  /** Issues a guest I/O on pages of a VM now (also what the timeline's `io` phases do). */
  issueIo(vm: number, gpns: ArrayLike<number>): void {
    this.io.io(vm, gpns);
  }

  dispose(): void {
    this.machine.dispose();
  }

  // ---- the step, part by part ----------------------------------------------------------------

  private vmRuntime(vm: number): VmRuntime {
    const runtime = this.vms[vm];
    if (!runtime) throw new RangeError(`VM ${vm}: no such VM (0..${this.vms.length - 1})`);
    return runtime;
  }

  private emit(event: HostEvent): void {
    this.events.push(event);
    for (const listener of this.listeners.get(event.type) ?? []) listener(event);
  }

  private applyTimeline(now: number): void {
    while (this.timelineIndex < this.timeline.length && (this.timeline[this.timelineIndex]?.atSec ?? Infinity) <= now) {
      const event = this.timeline[this.timelineIndex++];
      if (!event) break;
      const vm = this.byName.get(event.vm);
      if (!vm) continue;
      const w = vm.workload;
      let detail = "";
      switch (event.action) {
        case "boot":
          w.bootBacklog += Math.floor(event.MiB * MIB_PAGES);
          w.bootRate = Math.max(1, Math.round(event.rateMiBPerSec * MIB_PAGES));
          w.growTarget = Math.max(w.growTarget, (vm.guest?.allocatedPages ?? 0) + w.bootBacklog);
          w.workingSet = w.growTarget;
          w.touchRate = Math.max(w.touchRate, Math.round(w.workingSet / 10));
          detail = `boots with ${event.MiB} MiB`;
          break;
        case "grow":
          w.growTarget = Math.floor(event.toMiB * MIB_PAGES);
          w.growRate = Math.max(1, Math.round(event.rateMiBPerSec * MIB_PAGES));
          w.workingSet = Math.max(w.workingSet, w.growTarget);
          w.touchRate = Math.round(w.workingSet / 10);
          detail = `grows to ${event.toMiB} MiB at ${event.rateMiBPerSec} MiB/s`;
          break;
        case "free": {
          const freed = vm.guest?.free(Math.floor(event.MiB * MIB_PAGES)) ?? 0;
          w.growTarget = vm.guest?.allocatedPages ?? 0;
          w.workingSet = Math.min(w.workingSet, w.growTarget);
          detail = `frees ${(freed / MIB_PAGES).toFixed(0)} MiB inside the guest (the host still backs it)`;
          break;
        }
        case "idle":
          w.workingSet = Math.floor(event.workingSetMiB * MIB_PAGES);
          w.touchRate = Math.round(w.workingSet / 10);
          detail = `goes idle (working set ${event.workingSetMiB} MiB)`;
          break;
        case "active":
          w.workingSet = Math.floor(event.workingSetMiB * MIB_PAGES);
          w.touchRate = Math.round(event.touchRateMiBPerSec !== undefined ? event.touchRateMiBPerSec * MIB_PAGES : w.workingSet / 10);
          detail = `active, working set ${event.workingSetMiB} MiB`;
          break;
        case "touch":
          w.touchRate = Math.round(event.rateMiBPerSec * MIB_PAGES);
          detail = `touches ${event.rateMiBPerSec} MiB/s`;
          break;
        case "io":
          w.io.push({ fromGpn: event.fromGpn, pages: event.pages, ratePerSec: event.ratePerSec, untilSec: now + event.durationSec, credit: 0 });
          detail = `I/O on ${event.pages} pages from GPN ${event.fromGpn}, ${event.ratePerSec}/s for ${event.durationSec} s`;
          break;
      }
      this.emit({ type: "phase", timeSec: now, vm: vm.spec.name, action: event.action, detail });
    }
  }

  /** Content seed words for a new page: OS pages are the same across VMs with one osSeed. */
  private osSeedWords(vm: VmRuntime, index: number, out: Uint32Array): void {
    const os = BigInt(vm.spec.content.osSeed);
    const osLow = Number(os & 0xffffffffn);
    const osHigh = Number((os >> 32n) & 0xffffffffn);
    // The seed is mixed in twice, non-linearly: with `mix32(osLow ^ index)` alone, seeds that differ
    // only in low bits (1 and 2, say) gave the same set of OS pages at permuted GPNs, so VMs of
    // "different" OSes shared them all.
    const a = mix32(osLow ^ 0x9e3779b9) ^ osHigh;
    const b = mix32(osHigh ^ mix32(osLow + 0x7f4a7c15));
    const h = mix32(mix32(index ^ a) + b);
    if ((h % 10000) / 100 < vm.spec.content.osZeroPct) {
      out[0] = 0;
      out[1] = 0;
      return;
    }
    const low = mix32(h ^ 0x5bd1e995) || 1;
    const cls = mix32(low) % 100 < vm.spec.content.compressiblePct ? 1 : 0;
    out[0] = low;
    out[1] = ((mix32(h + 0x27d4eb2f) & 0x3fffffff) | (cls << 30)) >>> 0;
  }

  private appSeedWords(vm: VmRuntime, out: Uint32Array): void {
    const r = vm.contentRandom;
    if (r.nextFloat() * 100 < vm.spec.content.appZeroPct) {
      out[0] = 0;
      out[1] = 0;
      return;
    }
    const cls = r.nextFloat() * 100 < vm.spec.content.compressiblePct ? 1 : 0;
    out[0] = r.nextUint32() || 1;
    out[1] = ((r.nextUint32() & 0x3fffffff) | (cls << 30)) >>> 0;
  }

  private guestWork(vm: VmRuntime, guest: GuestOs, now: number): void {
    const w = vm.workload;
    const blockedByState = allocationsBlocked(this.stateValue) && this.consumedPages(vm.id) > vm.targetPages;
    if (blockedByState !== vm.blocked) {
      vm.blocked = blockedByState;
      this.emit({ type: "blocked", timeSec: now, vm: vm.spec.name, blocked: blockedByState });
    }
    const wantsToAllocate = w.bootBacklog > 0 || guest.allocatedPages < w.growTarget;
    if (blockedByState && wantsToAllocate) vm.blockedSeconds++;
    if (!blockedByState && wantsToAllocate) {
      const limitRoom = Math.max(0, Math.floor(vm.limitPages - this.consumedPages(vm.id)));
      const words = new Uint32Array(2);
      if (w.bootBacklog > 0) {
        const n = Math.min(w.bootBacklog, w.bootRate, limitRoom);
        const low = new Uint32Array(n);
        const high = new Uint32Array(n);
        for (let i = 0; i < n; i++) {
          this.osSeedWords(vm, vm.osPagesBooted + i, words);
          low[i] = words[0] ?? 0;
          high[i] = words[1] ?? 0;
        }
        const step = guest.allocate(n, low, high);
        vm.osPagesBooted += step.done;
        w.bootBacklog -= step.done;
      } else {
        const n = Math.min(w.growTarget - guest.allocatedPages, w.growRate, limitRoom);
        const low = new Uint32Array(n);
        const high = new Uint32Array(n);
        for (let i = 0; i < n; i++) {
          this.appSeedWords(vm, words);
          low[i] = words[0] ?? 0;
          high[i] = words[1] ?? 0;
        }
        const step = guest.allocate(n, low, high);
        // Seeds drawn for pages that did not get allocated are simply not used.
        void step;
      }
    }
    if (w.touchRate > 0 && w.workingSet > 0) {
      guest.touch(w.touchRate, w.workingSet, vm.spec.writePct / 100, vm.random, (out) => this.appSeedWords(vm, out));
    }
    for (const io of w.io) {
      if (now >= io.untilSec) continue;
      io.credit += io.ratePerSec;
      const count = Math.floor(io.credit);
      io.credit -= count;
      const gpns = new Uint32Array(count);
      for (let i = 0; i < count; i++) gpns[i] = io.fromGpn + vm.random.nextInt(io.pages);
      this.io.io(vm.id, gpns);
    }
    w.io = w.io.filter((io) => now < io.untilSec);
  }

  private rhoOf(vm: VmRuntime, pages: number): number {
    const k = idleCostFactor(this.idleTax);
    return sharesPerPage(vm.shares, pages, Math.min(pages, vm.sampler.estimate * vm.pages), k);
  }

  private updateTargets(): void {
    const requests: AllocationRequest[] = this.vms.map((vm) => {
      const consumed = this.consumedPages(vm.id);
      const w = vm.workload;
      const backlog = vm.guest ? w.bootBacklog + Math.max(0, w.growTarget - vm.guest.allocatedPages) : 0;
      return {
        shares: vm.shares,
        reservationPages: vm.reservationPages,
        limitPages: vm.limitPages,
        demandPages: Math.min(vm.pages, consumed + backlog + vm.pages * 0.01),
        activePages: vm.sampler.estimate * vm.pages,
      };
    });
    const available = this.machine.frames - this.thresholds.high;
    const result = computeTargets(requests, available, this.idleTax);
    this.vms.forEach((vm, i) => {
      vm.targetPages = result.targets[i] ?? vm.targetPages;
    });
  }

  private updateState(now: number): void {
    const free = this.machine.hostCounter("framesFree");
    const next = nextState(free, this.thresholds, this.stateValue);
    if (next !== this.stateValue) {
      this.emit({ type: "state", timeSec: now, from: this.stateValue, to: next, freeMiB: free / MIB_PAGES });
      this.stateValue = next;
    }
  }

  private reclaim(now: number): void {
    const state = this.stateValue;
    // Balloon: inflate by the VM's excess over its target in soft and worse; only deflate otherwise.
    for (const vm of this.vms) {
      if (!vm.balloon.enabled) continue;
      const excess = this.consumedPages(vm.id) - vm.targetPages;
      const size = vm.balloon.sizePages;
      let target = ballooningAllowed(state) ? size + excess : excess < 0 ? size + excess : size;
      if (vm.balloonHint !== undefined) target = vm.balloonHint;
      target = Math.max(0, Math.min(vm.balloon.maxPages, Math.round(target)));
      // The guest's reservation is never reclaimed.
      const reclaimable = Math.max(0, Math.floor(this.consumedPages(vm.id) - vm.reservationPages));
      if (target > size) target = Math.min(target, size + reclaimable);
      // A small dead band keeps the balloon from twitching by a few pages every second.
      const deadBand = Math.max(16, Math.floor(vm.pages / 1024));
      if (Math.abs(target - vm.balloon.targetPages) < deadBand && target !== 0) target = vm.balloon.targetPages;
      vm.balloon.setTarget(target);
      const moved = vm.balloon.tick();
      const change = moved > 0 ? "inflating" : moved < 0 ? "deflating" : "stopped";
      if (change !== vm.balloonChange) {
        vm.balloonChange = change;
        this.emit({ type: "balloon", timeSec: now, vm: vm.spec.name, sizeMiB: vm.balloon.sizePages / MIB_PAGES, targetMiB: vm.balloon.targetPages / MIB_PAGES, change });
      }
    }
    // Limits hold in every state: a VM above its limit is reclaimed at once. A page compressed into
    // a fresh cache frame frees nothing yet (the cache frame costs what the page did), so repeat
    // until the VM is within its limit or nothing more can be reclaimed.
    for (const vm of this.vms) {
      for (let pass = 0; pass < 8; pass++) {
        const over = Math.ceil(this.consumedPages(vm.id) - vm.limitPages);
        if (over <= 0 || this.reclaimFrom(vm, over, now) === 0) break;
      }
    }
    if (!swappingAllowed(state)) return;
    // Compression, then swap: back up to the soft threshold, from VMs above target, at the swap rate.
    const free = this.machine.hostCounter("framesFree");
    let budget = Math.min(Math.max(0, this.thresholds.soft - free), Math.round(this.settings.swapRateMiBPerSec * MIB_PAGES));
    if (budget <= 0) return;
    const excess = this.vms.map((vm) => Math.max(0, Math.min(this.consumedPages(vm.id) - vm.targetPages, this.consumedPages(vm.id) - vm.reservationPages)));
    const totalExcess = excess.reduce((a, b) => a + b, 0);
    if (totalExcess <= 0) return;
    for (const [i, vm] of this.vms.entries()) {
      // Whole pages of excess only: rounding a fraction up would reclaim below the reservation.
      const share = Math.min(budget, Math.ceil((budget * (excess[i] ?? 0)) / totalExcess), Math.floor(excess[i] ?? 0));
      if (share > 0) this.reclaimFrom(vm, share, now);
    }
    void budget;
  }

  /** Compresses or swaps up to `pages` of the VM's pages; returns how many left machine memory. */
  private reclaimFrom(vm: VmRuntime, pages: number, now: number): number {
    const before = { ...vm.reclaimer.counters };
    const reclaimed = vm.reclaimer.reclaim(pages, this.reclaimRandom);
    const compressed = vm.reclaimer.counters.compressed - before.compressed;
    const swapped = vm.reclaimer.counters.swappedOut + vm.reclaimer.counters.evictedFromCache - before.swappedOut - before.evictedFromCache;
    if (compressed + swapped > 0) this.emit({ type: "reclaim", timeSec: now, vm: vm.spec.name, compressedPages: compressed, swappedPages: swapped });
    return reclaimed;
  }

  private sample(): void {
    const now = this.nowSecValue;
    const interval = now - this.lastSampleSec;
    this.lastSampleSec = now;
    const host = this.machine.hostCounters();
    const thresholdsMiB: Record<string, number> = {};
    for (const [name, frames] of Object.entries(this.thresholds)) if (typeof frames === "number") thresholdsMiB[name] = frames / MIB_PAGES;
    let zeroPages = 0;
    const rows: VmSample[] = [];
    for (const vm of this.vms) {
      const c = this.machine.vmCounters(vm.id);
      zeroPages += c.zeroPages;
      const p = vm.previous;
      const consumed = this.consumedPages(vm.id);
      const perSec = (now: number, before: number): number => (now - before) / interval / MIB_PAGES;
      const row: VmSample = {
        timeSec: now,
        vm: vm.spec.name,
        MEMSZ: vm.pages / MIB_PAGES,
        GRANT: (c.privatePages + c.sharedPages) / MIB_PAGES,
        CONSUMED: consumed / MIB_PAGES,
        SZTGT: vm.targetPages / MIB_PAGES,
        TCHD: (vm.sampler.estimate * vm.pages) / MIB_PAGES,
        TCHD_TRUE: (vm.trueActiveFraction * vm.pages) / MIB_PAGES,
        MCTLSZ: vm.balloon.sizePages / MIB_PAGES,
        MCTLTGT: vm.balloon.targetPages / MIB_PAGES,
        MCTLMAX: vm.balloon.maxPages / MIB_PAGES,
        SWCUR: c.swappedPages / MIB_PAGES,
        SWTGT: swappingAllowed(this.stateValue) ? Math.max(0, consumed - vm.targetPages) / MIB_PAGES : 0,
        "SWR/s": perSec(c.swapIns, p.swapIns),
        "SWW/s": perSec(c.swapOuts, p.swapOuts),
        CACHEUSD: c.zipCacheFrames / MIB_PAGES,
        ZIP: c.compressedPages / MIB_PAGES,
        "ZIP/s": perSec(c.compressions, p.compressions),
        "UNZIP/s": perSec(c.decompressions, p.decompressions),
        SHRD: c.sharedPages / MIB_PAGES,
        ZERO: c.zeroPages / MIB_PAGES,
        SHRDSVD: host.pagesSharing > 0 ? ((c.sharedPages * host.savedPages) / host.pagesSharing) / MIB_PAGES : 0,
        COWH: (c.cowBreaks - p.cowBreaks) / interval,
        UNTOUCHED: c.untouchedPages / MIB_PAGES,
        BALLOONED: c.balloonedPages / MIB_PAGES,
        rho: this.rhoOf(vm, consumed),
        "GUEST_PGOUT/s": perSec(vm.guest?.counters.pageOuts ?? 0, vm.previousGuest.pageOuts),
        "GUEST_PGIN/s": perSec(vm.guest?.counters.pageIns ?? 0, vm.previousGuest.pageIns),
        DOUBLE_PAGING: vm.guest?.counters.doublePaging ?? 0,
        BLOCKED: vm.blocked ? 1 : 0,
      };
      rows.push(row);
      vm.previous = c;
      vm.previousGuest = { pageOuts: vm.guest?.counters.pageOuts ?? 0, pageIns: vm.guest?.counters.pageIns ?? 0 };
    }
    const hostRow: HostSample = {
      timeSec: now,
      freeMiB: host.framesFree / MIB_PAGES,
      state: this.stateValue,
      sharedSavedMiB: host.savedPages / MIB_PAGES,
      zeroMiB: zeroPages / MIB_PAGES,
      "scan/s": this.scannedSinceSample / interval,
      thresholdsMiB,
    };
    this.scannedSinceSample = 0;
    if (this.keepMetrics) {
      this.metrics.host.push(hostRow);
      this.metrics.vms.push(...rows);
    }
    for (const listener of this.sampleListeners) listener(hostRow, rows);
  }
}
