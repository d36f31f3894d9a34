// The time series a report plots, as columns: one time axis per run, the host's columns and each
// VM's columns aligned to it (NaN where an entity has no sample). Built from metrics samples as
// they are taken (run, replay) or from an `--metrics` CSV (src/report/csv.ts); also keeps the last
// value of every CSV column per entity, for the summary table. No Node APIs: the page's script
// imports the column names from here.
import type { HostSample, VmSample } from "../sim/metrics.ts";

/** Host columns a report embeds: CSV names (`--metrics`), plus MINFREE_CLEAR (esxi6) when known. */
export const HOST_SERIES = [
  "FREE", "STATE", "HOST_SHRDSVD", "HOST_ZERO", "SCAN/s",
  "MINFREE_HIGH", "MINFREE_CLEAR", "MINFREE_SOFT", "MINFREE_HARD", "MINFREE_LOW",
] as const;
export type HostSeries = (typeof HOST_SERIES)[number];

/** VM columns a report embeds (the ones its charts draw), CSV names. */
export const VM_SERIES = [
  "MEMSZ", "GRANT", "SHRD", "ZERO", "ZIP", "SWCUR", "BALLOONED", "UNTOUCHED",
  "MCTLSZ", "MCTLTGT", "SWR/s", "SWW/s", "ZIP/s", "UNZIP/s", "TCHD", "TCHD_TRUE", "rho",
] as const satisfies readonly (keyof VmSample)[];
export type VmSeries = (typeof VM_SERIES)[number];

/** Host states by code (the STATE column holds the index; -1 for a name not listed). */
export const STATE_NAMES = ["high", "clear", "soft", "hard", "low"] as const;

export function stateCode(name: string): number {
  return (STATE_NAMES as readonly string[]).indexOf(name);
}

/** A moment worth marking on the time axis (a workload phase). */
export interface Marker {
  readonly timeSec: number;
  readonly text: string;
}

export interface VmSeriesSet {
  readonly name: string;
  readonly columns: Readonly<Record<VmSeries, Float64Array>>;
}

/** One run's series: every array has `time.length` entries. */
export interface SeriesRun {
  readonly label: string;
  readonly time: Float64Array;
  readonly host: Readonly<Record<HostSeries, Float64Array>>;
  readonly vms: readonly VmSeriesSet[];
  readonly markers: readonly Marker[];
}

/** The last value of each column per entity: what the summary table shows. */
export interface LastValues {
  readonly timeSec: number;
  readonly host: Readonly<Record<string, number | string>>;
  readonly vms: ReadonlyMap<string, Readonly<Record<string, number | string>>>;
}

/** A Float64Array that grows by doubling. */
class GrowableColumn {
  private data = new Float64Array(64);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }

  set(index: number, value: number): void {
    this.data[index] = value;
  }

  padTo(length: number): void {
    while (this.length < length) this.push(Number.NaN);
  }

  finish(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

function columnsOf<K extends string>(names: readonly K[], length: number): Record<K, GrowableColumn> {
  const out = {} as Record<K, GrowableColumn>;
  for (const name of names) {
    const column = new GrowableColumn();
    column.padTo(length);
    out[name] = column;
  }
  return out;
}

/**
 * Collects samples into columns. A sample is opened with `begin(time)`, then filled with `host`
 * and `vm` values; anything not given stays NaN. VMs may appear late (earlier samples are NaN).
 */
export class SeriesCollector {
  private readonly time = new GrowableColumn();
  private readonly hostColumns = columnsOf(HOST_SERIES, 0);
  private readonly vmColumns = new Map<string, Record<VmSeries, GrowableColumn>>();
  private readonly lastHost: Record<string, number | string> = {};
  private readonly lastVms = new Map<string, Record<string, number | string>>();
  private readonly markers: Marker[] = [];
  private lastTime = Number.NaN;

  get samples(): number {
    return this.time.length;
  }

  /** Opens the sample at `timeSec` (a new row of every column, NaN until set). */
  begin(timeSec: number): void {
    this.time.push(timeSec);
    for (const name of HOST_SERIES) this.hostColumns[name].push(Number.NaN);
    for (const columns of this.vmColumns.values()) for (const name of VM_SERIES) columns[name].push(Number.NaN);
    this.lastTime = timeSec;
  }

  /** Sets a host column of the open sample (any CSV column; the embedded ones are kept as series). */
  host(column: string, value: number | string): void {
    this.lastHost[column] = value;
    const series = this.hostColumns[column as HostSeries] as GrowableColumn | undefined;
    if (!series || this.time.length === 0) return;
    const numeric = column === "STATE" ? stateCode(String(value)) : typeof value === "number" ? value : Number.NaN;
    series.set(this.time.length - 1, numeric);
  }

  /** Sets a VM column of the open sample. */
  vm(name: string, column: string, value: number | string): void {
    let last = this.lastVms.get(name);
    if (!last) {
      last = {};
      this.lastVms.set(name, last);
    }
    last[column] = value;
    let columns = this.vmColumns.get(name);
    if (!columns) {
      columns = columnsOf(VM_SERIES, this.time.length);
      this.vmColumns.set(name, columns);
    }
    const series = columns[column as VmSeries] as GrowableColumn | undefined;
    if (!series || this.time.length === 0) return;
    series.set(this.time.length - 1, typeof value === "number" ? value : Number.NaN);
  }

  /** Adds one metrics sample of a running host (what `Host.onSample` hands out). */
  addSample(host: HostSample, vms: readonly VmSample[]): void {
    this.begin(host.timeSec);
    this.host("FREE", host.freeMiB);
    this.host("STATE", host.state);
    this.host("HOST_SHRDSVD", host.sharedSavedMiB);
    this.host("HOST_ZERO", host.zeroMiB);
    this.host("SCAN/s", host["scan/s"]);
    const t = host.thresholdsMiB;
    const thresholds: [string, number | undefined][] = [
      ["MINFREE_HIGH", t.high], ["MINFREE_CLEAR", t.clear], ["MINFREE_SOFT", t.soft], ["MINFREE_HARD", t.hard], ["MINFREE_LOW", t.low],
    ];
    for (const [column, value] of thresholds) if (value !== undefined) this.host(column, value);
    for (const sample of vms) {
      for (const [column, value] of Object.entries(sample)) {
        if (column === "timeSec" || column === "vm") continue;
        if (typeof value === "number") this.vm(sample.vm, column, value);
      }
    }
  }

  addMarker(marker: Marker): void {
    this.markers.push(marker);
  }

  /** The series so far. */
  finish(label: string): SeriesRun {
    const host = {} as Record<HostSeries, Float64Array>;
    for (const name of HOST_SERIES) host[name] = this.hostColumns[name].finish();
    const vms: VmSeriesSet[] = [];
    for (const [name, columns] of this.vmColumns) {
      const out = {} as Record<VmSeries, Float64Array>;
      for (const column of VM_SERIES) out[column] = columns[column].finish();
      vms.push({ name, columns: out });
    }
    return { label, time: this.time.finish(), host, vms, markers: [...this.markers] };
  }

  /** The last value of every column per entity. */
  last(): LastValues {
    return { timeSec: this.lastTime, host: { ...this.lastHost }, vms: new Map([...this.lastVms].map(([k, v]) => [k, { ...v }])) };
  }
}

/** Seconds spent in each state, from the samples: each interval counts for the state at its end. */
export function stateSecondsFromSamples(run: SeriesRun): Record<string, number> {
  const out: Record<string, number> = {};
  const { time } = run;
  const state = run.host.STATE;
  for (let i = 0; i < time.length; i++) {
    const code = state[i] ?? -1;
    const name = STATE_NAMES[code] ?? "unknown";
    const dt = i === 0 ? (time[0] ?? 0) : (time[i] ?? 0) - (time[i - 1] ?? 0);
    if (Number.isNaN(code)) continue;
    out[name] = (out[name] ?? 0) + dt;
  }
  return out;
}
