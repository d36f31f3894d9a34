// Scaling a scenario: every memory size and memory rate multiplied by one factor, times and
// fractions kept, so a 4 GiB story can run in a fraction of the WASM memory with the same shape.
import type { Scenario } from "./scenario.ts";

export function scaleScenario(scenario: Scenario, factor: number): Scenario {
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`scale: expected 0 < factor <= 1, found ${factor}`);
  const f = (mib: number): number => mib * factor;
  const opt = (mib: number | undefined): number | undefined => (mib === undefined ? undefined : f(mib));
  const settings = { ...scenario.host.settings };
  if (settings.balloonRateMiBPerSec !== undefined) settings.balloonRateMiBPerSec = f(settings.balloonRateMiBPerSec);
  if (settings.swapRateMiBPerSec !== undefined) settings.swapRateMiBPerSec = f(settings.swapRateMiBPerSec);
  if (settings.thresholdsMiB !== undefined) {
    settings.thresholdsMiB = Object.fromEntries(Object.entries(settings.thresholdsMiB).map(([k, v]) => [k, f(v)]));
  }
  return {
    ...scenario,
    scale: scenario.scale * factor,
    host: {
      ...scenario.host,
      memoryMiB: f(scenario.host.memoryMiB),
      lowMemoryMiB: f(scenario.host.lowMemoryMiB),
      settings,
    },
    vms: scenario.vms.map((vm) => ({
      ...vm,
      memoryMiB: f(vm.memoryMiB),
      reservationMiB: f(vm.reservationMiB),
      ...(vm.limitMiB !== undefined ? { limitMiB: opt(vm.limitMiB) } : {}),
    })),
    timeline: scenario.timeline.map((event) => {
      switch (event.action) {
        case "boot":
          return { ...event, MiB: f(event.MiB), rateMiBPerSec: f(event.rateMiBPerSec) };
        case "grow":
          return { ...event, toMiB: f(event.toMiB), rateMiBPerSec: f(event.rateMiBPerSec) };
        case "free":
          return { ...event, MiB: f(event.MiB) };
        case "idle":
          return { ...event, workingSetMiB: f(event.workingSetMiB) };
        case "active":
          return { ...event, workingSetMiB: f(event.workingSetMiB), ...(event.touchRateMiBPerSec !== undefined ? { touchRateMiBPerSec: f(event.touchRateMiBPerSec) } : {}) };
        case "touch":
          return { ...event, rateMiBPerSec: f(event.rateMiBPerSec) };
        case "io":
          return event;
      }
    }),
  };
}
