// Samples of the host and its VMs over simulated time, with esxtop memory-panel names where one
// exists (sizes in MiB, rates per second over the sample interval).

export interface VmSample {
  readonly timeSec: number;
  readonly vm: string;
  /** MEMSZ: configured memory. */
  readonly MEMSZ: number;
  /** GRANT: guest memory mapped to machine memory (private + shared pages). */
  readonly GRANT: number;
  /** Machine memory consumed: private pages, its share of shared frames, compression cache. */
  readonly CONSUMED: number;
  /** SZTGT: the target (entitlement) from shares and the idle memory tax. */
  readonly SZTGT: number;
  /** TCHD: estimated active memory (activity sampling). */
  readonly TCHD: number;
  /** Truly active memory (distinct guest pages touched in the last sampling period). */
  readonly TCHD_TRUE: number;
  readonly MCTLSZ: number;
  readonly MCTLTGT: number;
  readonly MCTLMAX: number;
  /** SWCUR: memory in the host swap file. */
  readonly SWCUR: number;
  /** SWTGT: what the host still wants to swap (consumption above target, when swapping is on). */
  readonly SWTGT: number;
  readonly "SWR/s": number;
  readonly "SWW/s": number;
  /** CACHEUSD: compression cache in use (frames). */
  readonly CACHEUSD: number;
  readonly ZIP: number;
  readonly "ZIP/s": number;
  readonly "UNZIP/s": number;
  /** SHRD: guest memory mapped to shared frames. */
  readonly SHRD: number;
  /** ZERO: guest memory known to be zero pages. */
  readonly ZERO: number;
  /** SHRDSVD: memory saved by sharing, this VM's part (in proportion to its shared pages). */
  readonly SHRDSVD: number;
  /** COWH: copy-on-write breaks per second ("COW hints" in esxtop is the closest column). */
  readonly COWH: number;
  readonly UNTOUCHED: number;
  readonly BALLOONED: number;
  /** Shares per taxed page at the current allocation. */
  readonly rho: number;
  /** Guest-level paging to the guest's own swap device. */
  readonly "GUEST_PGOUT/s": number;
  readonly "GUEST_PGIN/s": number;
  readonly DOUBLE_PAGING: number;
  readonly BLOCKED: number;
}

export interface HostSample {
  readonly timeSec: number;
  readonly freeMiB: number;
  readonly state: string;
  readonly sharedSavedMiB: number;
  readonly zeroMiB: number;
  readonly "scan/s": number;
  readonly thresholdsMiB: Readonly<Record<string, number>>;
}

export interface MetricsLog {
  readonly intervalSec: number;
  readonly host: HostSample[];
  readonly vms: VmSample[];
}
