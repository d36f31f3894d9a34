// Metrics as esxtop batch-style CSV: one row per VM per sample plus one host row, with esxtop's
// memory-panel column names where one exists (sizes in MiB, as esxtop's "MB" columns are). Rows
// are written as they are sampled, so a long run never holds them all. The README documents
// every column.
import { closeSync, openSync, writeSync } from "node:fs";
import type { HostSample, VmSample } from "./metrics.ts";

/** VM columns, in order: esxtop names first, then ours. */
export const VM_COLUMNS = [
  "MEMSZ", "GRANT", "CONSUMED", "SZTGT", "TCHD", "TCHD_TRUE", "MCTLSZ", "MCTLTGT", "MCTLMAX",
  "SWCUR", "SWTGT", "SWR/s", "SWW/s", "CACHEUSD", "ZIP", "ZIP/s", "UNZIP/s", "SHRD", "ZERO",
  "SHRDSVD", "COWH", "UNTOUCHED", "BALLOONED", "rho", "GUEST_PGOUT/s", "GUEST_PGIN/s",
  "DOUBLE_PAGING", "BLOCKED",
] as const satisfies readonly (keyof VmSample)[];

export const HOST_COLUMNS = ["FREE", "STATE", "HOST_SHRDSVD", "HOST_ZERO", "SCAN/s", "MINFREE_HIGH", "MINFREE_SOFT", "MINFREE_HARD", "MINFREE_LOW"] as const;

export const CSV_HEADER = ["TIME", "ENTITY", ...HOST_COLUMNS, ...VM_COLUMNS];

function cell(value: number | string): string {
  if (typeof value === "string") return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  if (Number.isInteger(value)) return String(value);
  return Number.isFinite(value) ? String(Math.round(value * 1000) / 1000) : "";
}

export function hostRow(sample: HostSample): string {
  const t = sample.thresholdsMiB;
  const host = [sample.freeMiB, sample.state, sample.sharedSavedMiB, sample.zeroMiB, sample["scan/s"], t.high ?? "", t.soft ?? "", t.hard ?? "", t.low ?? ""];
  return [sample.timeSec, "host", ...host.map((v) => cell(v)), ...VM_COLUMNS.map(() => "")].join(",");
}

export function vmRow(sample: VmSample): string {
  return [sample.timeSec, cell(sample.vm), ...HOST_COLUMNS.map(() => ""), ...VM_COLUMNS.map((c) => cell(sample[c]))].join(",");
}

/** Streams samples to a CSV file. */
export class MetricsCsvWriter {
  private fd: number | undefined;
  rows = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, "w");
    writeSync(this.fd, `${CSV_HEADER.map((h) => cell(h)).join(",")}\n`);
  }

  write(host: HostSample, vms: readonly VmSample[]): void {
    if (this.fd === undefined) return;
    const lines = [hostRow(host), ...vms.map(vmRow)];
    writeSync(this.fd, `${lines.join("\n")}\n`);
    this.rows += lines.length;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
