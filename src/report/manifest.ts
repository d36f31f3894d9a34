// What the writer tells the page about the embedded data (JSON in the page): each run's columns by
// key in the blob, and the blob's encoding. Shared by the writer (src/report/html.ts) and the
// page's script (src/report/client/main.ts).
import type { ColumnEncoding } from "./codec.ts";
import type { HostSeries, Marker, VmSeries } from "./series.ts";

export interface ManifestVm {
  readonly name: string;
  /** Column key in the blob, per VM series (absent: the column was never sampled). */
  readonly columns: Partial<Record<VmSeries, string>>;
}

export interface ManifestRun {
  readonly label: string;
  readonly samples: number;
  /** Key of the time column (simulated seconds). */
  readonly time: string;
  readonly host: Partial<Record<HostSeries, string>>;
  readonly vms: readonly ManifestVm[];
  readonly markers: readonly Marker[];
  /** Divide sizes by this to get the scenario's full-scale sizes (1 when not scaled). */
  readonly scale: number;
}

export interface Manifest {
  readonly version: 1;
  readonly kind: "run" | "replay" | "metrics" | "scan";
  readonly runs: readonly ManifestRun[];
  readonly columns: readonly ColumnEncoding[];
  /** How the base64 blob is compressed. */
  readonly compression: "gzip" | "none";
  /** Bytes of the blob before compression (to size the page's buffer). */
  readonly rawBytes: number;
}

/** Element ids in the page. */
export const MANIFEST_ID = "overcommit-manifest";
export const DATA_ID = "overcommit-data";
export const CHARTS_ID = "overcommit-charts";
