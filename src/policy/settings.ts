// Host settings, named after the ESX advanced settings they model, with the defaults of the spec
// (../shared/spec.md) and of VMware's documents. Units are in the names.

export type MemoryStateProfile = "esx4" | "esxi5" | "esxi6";

export interface HostSettings {
  /** Which free-memory state thresholds to use. */
  profile: MemoryStateProfile;
  /** Mem.MinFreePct for esx4: the high threshold as a percent of host memory (soft/hard/low: 4/2/1). */
  minFreePct: number;
  /** Explicit thresholds in MiB, overriding the profile's (any subset). */
  thresholdsMiB: Partial<Record<"high" | "clear" | "soft" | "hard" | "low", number>>;
  /** Mem.IdleTax: tax rate tau on idle memory, 0 <= tau < 1 (0.75: an idle page costs 4 active ones). */
  idleTax: number;
  /** Activity sampling period (ESX 4: 60 s; the paper: 30 s). */
  samplePeriodSec: number;
  /** Pages sampled per VM per period (the paper: 100). */
  samplePages: number;
  /** Mem.CtlMaxPercent: the balloon takes at most this percent of a VM's configured memory. */
  ctlMaxPercent: number;
  /** How fast a balloon inflates or deflates (slow on purpose: reclaim by balloon takes minutes). */
  balloonRateMiBPerSec: number;
  /** Mem.MemZipMaxPct: the compression cache holds at most this percent of a VM's memory. */
  memZipMaxPct: number;
  /** Host swap (and compression) throughput, MiB per second over all VMs. */
  swapRateMiBPerSec: number;
  /** Mem.ShareScanTime: each VM is rescanned about once per this many minutes. */
  shareScanTimeMin: number;
  /** Mem.ShareScanGHz: host-wide scan cap, MiB per second per GHz of host CPU. */
  shareScanGHz: number;
  /** Host CPU in GHz (cores x clock), for the Mem.ShareScanGHz cap. */
  hostCpuGHz: number;
  /** Mem.ShareRateMax: per-VM scan cap, pages per second. */
  shareRateMax: number;
  /** How often targets (entitlements) are recomputed. */
  allocationPeriodSec: number;
  /** I/O remapping: a page with more bounce copies than this in a period is moved to low memory. */
  ioHotCopies: number;
}

export const DEFAULT_HOST_SETTINGS: HostSettings = {
  profile: "esx4",
  minFreePct: 6,
  thresholdsMiB: {},
  idleTax: 0.75,
  samplePeriodSec: 60,
  samplePages: 100,
  ctlMaxPercent: 65,
  balloonRateMiBPerSec: 8,
  memZipMaxPct: 10,
  swapRateMiBPerSec: 64,
  shareScanTimeMin: 60,
  shareScanGHz: 4,
  hostCpuGHz: 8,
  shareRateMax: 1024,
  allocationPeriodSec: 1,
  ioHotCopies: 8,
};
