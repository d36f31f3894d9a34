// Host free-memory states. Free memory is compared with a profile's thresholds; the state is the
// highest one whose threshold free memory is at or above (below the lowest threshold: still low).
// Each state enables the reclamation mechanisms of the states above it, plus its own:
//
//   high   sharing only                      soft   + balloon
//   clear  (esxi6) + sharing pushed harder   hard   + compression and host swap
//                                             low    + block allocations of VMs above target
//
// Profiles (../shared/spec.md):
//   esx4   high/soft/hard/low at 6% / 4% / 2% / 1% of host memory (Mem.MinFreePct = 6, rounded
//          the way the seeds tell it; ESX 4 derives them as 64/32/16% of MinFreePct).
//   esxi5  100% / 64% / 32% / 16% of a sliding-scale minFree: 6% of the first 4 GiB, 4% of the
//          next 8 GiB, 2% of the next 16 GiB, 1% of the rest.
//   esxi6  esxi5 plus clear: high at 400% of minFree, clear from 100% to 400%.
import type { HostSettings, MemoryStateProfile } from "./settings.ts";

export const MEMORY_STATES = ["high", "clear", "soft", "hard", "low"] as const;
export type MemoryState = (typeof MEMORY_STATES)[number];

/** Thresholds in frames, from the top state down; `clear` only in esxi6. */
export interface StateThresholds {
  readonly high: number;
  readonly clear?: number;
  readonly soft: number;
  readonly hard: number;
  readonly low: number;
}

const MIB_FRAMES = 256;

/** vSphere 5's sliding-scale minFree, in MiB, for a host of `hostMiB`. */
export function slidingMinFreeMiB(hostMiB: number): number {
  const bands: [number, number][] = [
    [4096, 0.06],
    [8192, 0.04],
    [16384, 0.02],
    [Number.POSITIVE_INFINITY, 0.01],
  ];
  let left = hostMiB;
  let minFree = 0;
  for (const [size, rate] of bands) {
    const part = Math.min(left, size);
    minFree += part * rate;
    left -= part;
    if (left <= 0) break;
  }
  return minFree;
}

export function thresholdsFor(hostFrames: number, settings: Pick<HostSettings, "profile" | "minFreePct" | "thresholdsMiB">): StateThresholds {
  const hostMiB = hostFrames / MIB_FRAMES;
  const base = profileThresholdsMiB(settings.profile, hostMiB, settings.minFreePct);
  const merged = { ...base, ...settings.thresholdsMiB };
  const toFrames = (mib: number | undefined): number | undefined => (mib === undefined ? undefined : Math.round(mib * MIB_FRAMES));
  const result: StateThresholds = {
    high: toFrames(merged.high) ?? 0,
    soft: toFrames(merged.soft) ?? 0,
    hard: toFrames(merged.hard) ?? 0,
    low: toFrames(merged.low) ?? 0,
    ...(merged.clear !== undefined ? { clear: toFrames(merged.clear) ?? 0 } : {}),
  };
  const order = [result.high, ...(result.clear !== undefined ? [result.clear] : []), result.soft, result.hard, result.low];
  for (let i = 1; i < order.length; i++) {
    if ((order[i] ?? 0) > (order[i - 1] ?? 0)) {
      throw new RangeError(`free-memory thresholds must fall from high to low, found ${JSON.stringify(merged)} MiB`);
    }
  }
  return result;
}

function profileThresholdsMiB(profile: MemoryStateProfile, hostMiB: number, minFreePct: number): Record<string, number> {
  if (profile === "esx4") {
    // The seeds' 6/4/2/1 are MinFreePct and its 64/32/16% rounded; keep that rounding.
    const scale = minFreePct / 6;
    return { high: hostMiB * 0.06 * scale, soft: hostMiB * 0.04 * scale, hard: hostMiB * 0.02 * scale, low: hostMiB * 0.01 * scale };
  }
  const minFree = slidingMinFreeMiB(hostMiB);
  const sliding = { soft: minFree * 0.64, hard: minFree * 0.32, low: minFree * 0.16 };
  if (profile === "esxi5") return { high: minFree, ...sliding };
  return { high: minFree * 4, clear: minFree, ...sliding };
}

/** The state for `freeFrames` of free memory. */
export function stateFor(freeFrames: number, thresholds: StateThresholds): MemoryState {
  if (freeFrames >= thresholds.high) return "high";
  if (thresholds.clear !== undefined && freeFrames >= thresholds.clear) return "clear";
  if (freeFrames >= thresholds.soft) return "soft";
  if (freeFrames >= thresholds.hard) return "hard";
  return "low";
}

/**
 * The next state from `current` for `freeFrames`: worse at once, better only once free memory is
 * a margin (a quarter of the soft-hard gap) above the better state's threshold, so that free memory
 * hovering at a threshold does not flip the state every second.
 */
export function nextState(freeFrames: number, thresholds: StateThresholds, current: MemoryState): MemoryState {
  const raw = stateFor(freeFrames, thresholds);
  if (severity(raw) >= severity(current)) return raw;
  const margin = Math.max(1, Math.floor((thresholds.soft - thresholds.hard) / 4));
  const withMargin = stateFor(Math.max(0, freeFrames - margin), thresholds);
  return severity(withMargin) < severity(current) ? withMargin : current;
}

/** How severe a state is: 0 high, 1 clear, 2 soft, 3 hard, 4 low. */
export function severity(state: MemoryState): number {
  return MEMORY_STATES.indexOf(state);
}

export const ballooningAllowed = (state: MemoryState): boolean => severity(state) >= severity("soft");
export const swappingAllowed = (state: MemoryState): boolean => severity(state) >= severity("hard");
export const allocationsBlocked = (state: MemoryState): boolean => state === "low";
