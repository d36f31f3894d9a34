// The library for browsers (dist/browser.js): the same API as src/index.ts minus what needs files
// or threads. Swapped pages stay in memory; pass memory-image bytes to Machine.loadPages.
export { Machine, maxFramesThatFit } from "./core/machine.ts";
export type { MachineOptions, VmOptions, PageOpResult, PageInfo, StopReason, HostCounters, VmCounters, ScanResult } from "./core/machine.ts";
export { PageState, Status, PAGE_BYTES, VM_COUNTER_NAMES, HOST_COUNTER_NAMES } from "./core/abi.ts";
export { OvercommitError, InvalidArgumentError, OutOfFramesError } from "./core/errors.ts";
export { Host } from "./sim/host.ts";
export type { HostEvent, HostEventType } from "./sim/host.ts";
export { parseScenario, ScenarioError } from "./sim/scenario.ts";
export type { Scenario, ScenarioInput } from "./sim/scenario.ts";
export { scaleScenario } from "./sim/scale.ts";
export { SEEDS_STORY } from "./sim/seeds-story.ts";
export { runScenario } from "./sim/run.ts";
export type { RunResult } from "./sim/run.ts";
export { computeTargets, sharesPerPage } from "./policy/allocation.ts";
export { thresholdsFor, stateFor } from "./policy/memory-state.ts";
export { TraceChunk, TraceOp } from "./trace/events.ts";
export { generateTrace } from "./trace/generate.ts";
export { replayTrace, replayInto } from "./trace/replay.ts";
