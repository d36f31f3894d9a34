// Report documents for each command: a run of scenarios, a replay, a metrics CSV, an image scan.
// Each has the esxtop-like figures at the end in a table at the top, what is needed to run it
// again, and the series over simulated time for the charts.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunResult, VmSummary } from "../sim/run.ts";
import type { ImageScanReport } from "../scan/scan-images.ts";
import { buildReportHtml, type ReportDocument, type SummaryTable } from "./html.ts";
import { SeriesCollector, stateSecondsFromSamples, type LastValues, type SeriesRun } from "./series.ts";

// ---- formatting ----------------------------------------------------------------------------------

function mib(v: number | string | undefined): string {
  if (typeof v !== "number" || Number.isNaN(v)) return typeof v === "string" ? v : "";
  return `${v.toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })}`;
}

function int(v: number): string {
  return Math.round(v).toLocaleString("en-US");
}

function sig(v: number | string | undefined): string {
  if (typeof v !== "number" || Number.isNaN(v)) return typeof v === "string" ? v : "";
  return v === 0 ? "0" : v.toPrecision(4);
}

/** Simulated seconds as m:ss or h:mm:ss. */
export function clockText(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number): string => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/** A command line a POSIX shell reads back as these words. */
export function shellLine(words: readonly string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(" ");
}

function statesText(seconds: Readonly<Record<string, number>>): string {
  const parts = Object.entries(seconds).filter(([, s]) => s > 0).map(([state, s]) => `${state} ${int(s)} s`);
  return parts.length > 0 ? parts.join(", ") : "-";
}

// ---- the summary tables --------------------------------------------------------------------------

/** esxtop memory-panel columns shown at the end, per VM (MiB except rho). */
const END_COLUMNS = ["MEMSZ", "GRANT", "CONSUMED", "SZTGT", "TCHD", "TCHD_TRUE", "MCTLSZ", "MCTLTGT", "SWCUR", "ZIP", "SHRD", "ZERO", "SHRDSVD", "rho"] as const;

interface RunEnd {
  readonly label: string;
  readonly last: LastValues;
  readonly stateSeconds: Readonly<Record<string, number>>;
  readonly extra?: readonly (readonly [string, string])[];
}

function endTables(ends: readonly RunEnd[], scaleNote?: string): SummaryTable[] {
  const many = ends.length > 1;
  const vmRows: string[][] = [];
  for (const end of ends) {
    for (const [name, values] of end.last.vms) {
      vmRows.push([many ? `${end.label} · ${name}` : name, ...END_COLUMNS.map((c) => (c === "rho" ? sig(values[c]) : mib(values[c])))]);
    }
  }
  const timeText = ends.map((e) => (Number.isFinite(e.last.timeSec) ? clockText(e.last.timeSec) : "-"));
  const at = [...new Set(timeText)].join(", ");
  const hostRows = ends.map((end) => [
    many ? end.label : "host",
    mib(end.last.host.FREE),
    String(end.last.host.STATE ?? ""),
    mib(end.last.host.HOST_SHRDSVD),
    mib(end.last.host.HOST_ZERO),
    statesText(end.stateSeconds),
    ...(end.extra ?? []).map(([, v]) => v),
  ]);
  const extraHeader = (ends[0]?.extra ?? []).map(([k]) => k);
  return [
    {
      caption: `VMs at the end (${at}), esxtop memory panel (MiB; rho in shares per page)`,
      header: ["vm", ...END_COLUMNS],
      rows: vmRows,
      note: `GRANT: mapped to machine memory; CONSUMED: its machine memory (shared frames split among their pages, plus compression cache); SZTGT: its target; TCHD / TCHD_TRUE: active memory, estimated / true; MCTLSZ / MCTLTGT: balloon size / target; SWCUR: swapped; ZIP: compressed; SHRD: shared; ZERO: zero pages; SHRDSVD: saved by sharing.${scaleNote ? ` ${scaleNote}` : ""}`,
    },
    {
      caption: "Host at the end (MiB)",
      header: [many ? "run" : "", "FREE", "STATE", "HOST_SHRDSVD", "HOST_ZERO", "time per state", ...extraHeader],
      rows: hostRows,
    },
  ];
}

// ---- run -------------------------------------------------------------------------------------------

/** The series of a finished run (its kept metrics) and the phases as markers. */
export function seriesOfRun(result: RunResult, label: string): { series: SeriesRun; last: LastValues } {
  const collector = new SeriesCollector();
  const vms = result.metrics.vms;
  let j = 0;
  for (const host of result.metrics.host) {
    const rows = [];
    while (j < vms.length && (vms[j]?.timeSec ?? Number.NaN) <= host.timeSec) {
      const row = vms[j++];
      if (row && row.timeSec === host.timeSec) rows.push(row);
    }
    collector.addSample(host, rows);
  }
  for (const event of result.events) {
    if (event.type === "phase") collector.addMarker({ timeSec: event.timeSec, text: `${event.vm} ${event.detail}`.slice(0, 60) });
  }
  return { series: collector.finish(label), last: collector.last() };
}

export interface RunReportInput {
  readonly results: readonly RunResult[];
  /** The scenario as run, before scaling (with any --seed / --duration applied), for the JSON. */
  readonly scenario: unknown;
  readonly scenarioName: string;
  readonly description?: string;
  readonly scale: number;
  /** The command line that runs it again. */
  readonly command: string;
  /** Per result, the story lines (src/cli/run.ts narrate). */
  readonly narratives?: readonly (readonly string[])[];
}

function paging(results: readonly RunResult[]): SummaryTable {
  const many = results.length > 1;
  const rows: string[][] = [];
  for (const result of results) {
    for (const vm of result.vms as readonly VmSummary[]) {
      rows.push([
        many ? `tax ${result.idleTax} · ${vm.name}` : vm.name,
        int(vm.guestPageOuts), int(vm.guestPageIns), int(vm.doublePaging), int(vm.swapOuts), int(vm.swapIns), int(vm.blockedSeconds),
        `${(100 * vm.activeEstimate).toFixed(0)}% / ${(100 * vm.activeTrue).toFixed(0)}%`,
      ]);
    }
  }
  return {
    caption: "Paging over the whole run (pages)",
    header: ["vm", "guest page-outs", "guest page-ins", "double paging", "host swap-outs", "host swap-ins", "blocked s", "active est / true"],
    rows,
  };
}

export function runDocument(input: RunReportInput): ReportDocument {
  const { results } = input;
  const first = results[0];
  const labelOf = (r: RunResult): string => `idle tax ${r.idleTax}`;
  const runs = results.map((r) => {
    const { series, last } = seriesOfRun(r, labelOf(r));
    return { series: { ...series, scale: input.scale }, last, result: r };
  });
  const scaleNote = input.scale !== 1 ? `Sizes are as simulated, at scale ${input.scale}: divide by ${input.scale} for the scenario's full-scale sizes.` : undefined;
  const ends: RunEnd[] = runs.map(({ last, result }) => ({
    label: labelOf(result),
    last,
    stateSeconds: result.stateSeconds,
    extra: [
      ["simulated", `${int(result.durationSec)} s`],
      ["wall", `${result.wallSeconds.toFixed(1)} s`],
    ],
  }));
  return {
    kind: "run",
    title: `overcommit run: ${input.scenarioName}`,
    ...(input.description ? { subtitle: input.description } : {}),
    facts: [
      ["scenario", input.scenarioName],
      ["seed", first?.seed ?? ""],
      ["scale", input.scale === 1 ? "1 (full size)" : `${input.scale} (sizes below are simulated: divide by ${input.scale} for full scale)`],
      ["simulated", first ? `${int(first.durationSec)} s (${clockText(first.durationSec)})` : ""],
      ["host", first ? `${mib(first.host.memoryMiB)} MiB simulated` : ""],
      ["idle tax", results.map((r) => String(r.idleTax)).join(", ")],
      ["command", input.command],
    ],
    reproduce: {
      command: input.command,
      scenarioJson: JSON.stringify(input.scenario, null, 2),
      note: "The scenario below is the one run, before scaling, with any --seed and --duration applied: save it as a file and run `overcommit run <file>` with the same --scale and --tax to get the same run.",
    },
    tables: [...endTables(ends, scaleNote), paging(results)],
    texts: (input.narratives ?? []).map((lines, i) => ({ title: `What happened (${labelOf(results[i] ?? (first as RunResult))})`, lines, open: i === results.length - 1 })),
    runs: runs.map((r) => r.series),
  };
}

// ---- replay ----------------------------------------------------------------------------------------

export interface ReplayReportInput {
  readonly trace: string;
  readonly format: string;
  readonly events: number;
  readonly simSec: number;
  readonly wallSeconds: number;
  readonly eventsPerSec: number;
  readonly interrupted: boolean;
  readonly vms: number;
  readonly hostMiB: number;
  readonly peakRssMiB: number;
  readonly stateSeconds: Readonly<Record<string, number>>;
  readonly verifiedPages?: number;
}

export function replayDocument(report: ReplayReportInput, collector: SeriesCollector, reproduce: { command: string; scenarioJson?: string }): ReportDocument {
  const series = collector.finish(basename(report.trace));
  const last = collector.last();
  return {
    kind: "replay",
    title: `overcommit replay: ${basename(report.trace)}`,
    subtitle: report.interrupted ? "Interrupted (Ctrl-C): this is what ran before the stop." : undefined,
    facts: [
      ["trace", `${report.trace} (${report.format})`],
      ["events", `${int(report.events)} over ${int(report.simSec)} simulated seconds (${clockText(report.simSec)})`],
      ["speed", `${report.wallSeconds.toFixed(2)} s wall, ${int(report.eventsPerSec)} events/s; peak RSS ${int(report.peakRssMiB)} MiB`],
      ["host", `${mib(report.hostMiB)} MiB, ${report.vms} VMs`],
      ...(report.verifiedPages !== undefined ? ([["verified", `${int(report.verifiedPages)} pages read back as written`]] as [string, string][]) : []),
      ["command", reproduce.command],
    ],
    reproduce: { command: reproduce.command, ...(reproduce.scenarioJson !== undefined ? { scenarioJson: reproduce.scenarioJson } : {}) },
    tables: endTables([{ label: "replay", last, stateSeconds: report.stateSeconds, extra: [["simulated", `${int(report.simSec)} s`], ["wall", `${report.wallSeconds.toFixed(1)} s`]] }]),
    runs: [series],
  };
}

// ---- metrics CSV -----------------------------------------------------------------------------------

export function metricsDocument(path: string, collector: SeriesCollector, rows: number): ReportDocument {
  const series = collector.finish(basename(path));
  const last = collector.last();
  const stateSeconds = stateSecondsFromSamples(series);
  const span = series.time.length > 0 ? `${clockText(series.time[0] ?? 0)} to ${clockText(series.time[series.time.length - 1] ?? 0)}` : "no samples";
  return {
    kind: "metrics",
    title: `overcommit metrics: ${basename(path)}`,
    facts: [
      ["file", resolve(path)],
      ["rows", `${int(rows)} (${int(series.time.length)} samples, ${series.vms.length} VMs)`],
      ["simulated time", span],
    ],
    reproduce: { command: shellLine(["overcommit", "report", path, "-o", "<out.html>"]), note: "A metrics CSV does not hold the scenario or the seed: see the command that wrote it (run or replay --metrics)." },
    tables: endTables([{ label: basename(path), last, stateSeconds }]).map((t, i) => (i === 1 ? { ...t, note: "Time per state is counted from the samples (each interval counts for the state at its end)." } : t)),
    runs: [series],
  };
}

// ---- scan ------------------------------------------------------------------------------------------

export function scanDocument(report: ImageScanReport, command: string): ReportDocument {
  const pct = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-");
  const compress = report.compressiblePages !== undefined;
  return {
    kind: "scan",
    title: `overcommit scan: ${report.images.length} image${report.images.length === 1 ? "" : "s"}`,
    facts: [
      ["pages", `${int(report.pages)} (${mib(report.pages / 256)} MiB)`],
      ["zero pages", int(report.zeroPages)],
      ["shared frames", `${int(report.sharedFrames)} (frames backing 2+ pages; KSM pages_shared)`],
      ["saved pages", `${int(report.savedPages)} (${mib(report.savedPages / 256)} MiB, ${pct(report.savedPages, report.pages)} of all pages; KSM pages_sharing)`],
      ["distinct", int(report.distinctPages)],
      ...(compress ? ([["compressible", `${int(report.compressiblePages ?? 0)} of the unshared pages fit a 2 KiB compression-cache slot`]] as [string, string][]) : []),
      ["scan", `${report.passes} passes, ${int(report.scannedPages)} pages in ${report.scanSeconds.toFixed(3)} s: ${int(report.pagesPerSec)} pages/s (first pass: ${int(report.firstPassPagesPerSec)} pages/s)`],
      ["seed", report.seed],
      ["max page sharing", report.maxPageSharing === null ? "unlimited" : String(report.maxPageSharing)],
      ["command", command],
    ],
    reproduce: { command },
    tables: [
      {
        caption: "Per image (pages)",
        header: ["image", "pages", "zero", "shared", "shared with other images", "private", ...(compress ? ["compressible"] : [])],
        rows: report.images.map((image) => [
          basename(image.path),
          int(image.pages),
          int(image.zeroPages),
          int(image.sharedPages),
          image.sharedWithOtherImages !== undefined ? int(image.sharedWithOtherImages) : "",
          int(image.privatePages),
          ...(compress ? [int(image.compressiblePages ?? 0)] : []),
        ]),
      },
    ],
    runs: [],
    scan: {
      images: report.images.map(({ path, ...counts }) => ({ name: basename(path), ...counts })),
      ...(report.pairShared ? { pairShared: report.pairShared } : {}),
    },
  };
}

// ---- writing ---------------------------------------------------------------------------------------

/**
 * Where `overcommit run` without arguments writes its report: out/overcommit-report.html in the
 * project (out/ is git-ignored), the nearest directory up from this module with a package.json;
 * in the OS temp directory when overcommit is installed as a package (under node_modules).
 */
export function defaultReportPath(): string {
  const fallback = join(tmpdir(), "overcommit-report.html");
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) return fallback;
    dir = up;
  }
  return dir.split(sep).includes("node_modules") ? fallback : join(dir, "out", "overcommit-report.html");
}

/** Builds the page and writes it (whole, via a temporary file). Returns the absolute path and size. */
export async function writeReport(path: string, doc: ReportDocument): Promise<{ path: string; bytes: number }> {
  const html = await buildReportHtml(doc);
  const target = resolve(path);
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, html);
  renameSync(temp, target);
  return { path: target, bytes: Buffer.byteLength(html) };
}
