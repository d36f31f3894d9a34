// overcommit's public library API. Everything here is typed and documented; see README.md
// ("Use it as a library") and examples/ for runnable programs.
//
// Layers, from the bottom:
//   Machine     the byte-exact machine memory (WASM core): VMs, pages, sharing, COW, compression,
//               swap, balloon, exact counters. Mechanism only.
//   Host        a simulated ESX host over simulated time: policies (free-memory states, shares and
//               the idle memory tax, activity sampling, balloon driver and guest OS model,
//               compression, host swap, scan scheduling, I/O remapping) driving a Machine.
//   scenarios   JSON descriptions of a host, its VMs and a workload timeline.
//   traces      streaming readers and writers of memory traces, and replay on a Host.
//   scanImages  content-based page sharing over memory images, KSM-style figures.
//
// Node-only: files (memory images by path, trace files, swap files, metrics CSV), worker threads
// (sweeps). In a browser bundle (dist/browser.js) swap stays in memory and images are passed as bytes.

export { Machine, maxFramesThatFit } from "./core/machine.ts";
export type {
  MachineOptions, VmOptions, PageOpResult, PageInfo, StopReason, HostCounters, VmCounters, ScanProgress, ScanResult,
} from "./core/machine.ts";
export { PageState, Status, Op, PAGE_BYTES, VM_COUNTER_NAMES, HOST_COUNTER_NAMES } from "./core/abi.ts";
export type { PageStateName, StatusCode, OpCode, VmCounterName, HostCounterName } from "./core/abi.ts";
export {
  OvercommitError, InvalidArgumentError, ImageFormatError, OutOfFramesError, SwapIoError,
} from "./core/errors.ts";
export type { OvercommitErrorCode } from "./core/errors.ts";
export type { SwapStore } from "./core/swap-store.ts";

export { Host } from "./sim/host.ts";
export type { HostEvent, HostEventType } from "./sim/host.ts";
export type { HostSample, VmSample, MetricsLog } from "./sim/metrics.ts";
export { MetricsCsvWriter, CSV_HEADER, VM_COLUMNS, HOST_COLUMNS } from "./sim/metrics-csv.ts";
export { parseScenario, loadScenarioFile, scenarioSchema, ScenarioError } from "./sim/scenario.ts";
export type { Scenario, ScenarioInput, VmScenario, TimelineEvent } from "./sim/scenario.ts";
export { scaleScenario } from "./sim/scale.ts";
export { SEEDS_STORY } from "./sim/seeds-story.ts";
export { runScenario, runScenarioAsync } from "./sim/run.ts";
export type { RunResult, RunOptions, VmSummary } from "./sim/run.ts";
export { Random, deriveSeed } from "./sim/random.ts";

export {
  thresholdsFor, stateFor, nextState, slidingMinFreeMiB, MEMORY_STATES,
} from "./policy/memory-state.ts";
export type { MemoryState, StateThresholds } from "./policy/memory-state.ts";
export { computeTargets, sharesPerPage, idleCostFactor } from "./policy/allocation.ts";
export type { AllocationRequest, AllocationResult } from "./policy/allocation.ts";
export { DEFAULT_HOST_SETTINGS } from "./policy/settings.ts";
export type { HostSettings, MemoryStateProfile } from "./policy/settings.ts";

export { TraceChunk, TraceOp, TraceFormatError, EventValidator, TRACE_OP_NAMES } from "./trace/events.ts";
export type { TraceHeader, TraceVm, TraceSource, TraceOpName, TraceOpCode } from "./trace/events.ts";
export { openTrace, detectFormat } from "./trace/open.ts";
export { openBinaryTrace, BinaryTraceWriter, readBinaryHeader } from "./trace/binary.ts";
export { generateTrace, ZipfSampler } from "./trace/generate.ts";
export type { GenerateOptions, Workload } from "./trace/generate.ts";
export { replayTrace, replayInto, scenarioForTrace } from "./trace/replay.ts";
export type { ReplayOptions, ReplaySummary, ReplayProgress } from "./trace/replay.ts";
export { imageInfo, loadImage } from "./trace/image.ts";
export type { ImageInfo } from "./trace/image.ts";

export { scanImages } from "./scan/scan-images.ts";
export type { ImageScanOptions, ImageScanReport, ImageScanEntry } from "./scan/scan-images.ts";
