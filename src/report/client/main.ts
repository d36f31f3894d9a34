// The report page's script (bundled by src/report/client-bundle.ts into client.generated.ts, which
// src/report/html.ts inlines after uPlot's own script): decodes the embedded samples, then draws
// uPlot charts over simulated time. Every sample is kept; each chart draws only the rows M4 picks
// for its pixel width and visible range (src/report/downsample.ts), again on every zoom. Drag across a chart to zoom all charts of a run; double-click to zoom out.
// Exposes `window.overcommitReport` (charts, load time, errors) for the browser test.
import type uPlot from "uplot";
import { decodeColumn } from "../codec.ts";
import { gather, m4Indices, PAGE_LAYERS, pageLayerColumns, stackColumns } from "../downsample.ts";
import { STATE_NAMES, type HostSeries, type VmSeries } from "../series.ts";
import { CHARTS_ID, DATA_ID, MANIFEST_ID, type Manifest, type ManifestRun } from "../manifest.ts";
import { axisValues, clock, number, significant } from "./format.ts";

/** uPlot's browser build (inlined before this script) defines the global `uPlot`. */
const UPlot = (globalThis as unknown as { uPlot: typeof uPlot }).uPlot;

// ---- colours and formats ----------------------------------------------------------------------

const STATE_COLORS: Record<string, string> = { high: "#2e7d32", clear: "#00897b", soft: "#f9a825", hard: "#ef6c00", low: "#c62828", unknown: "#757575" };
const VM_COLORS = ["#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"];
const LAYER_COLORS: Record<string, string> = {
  private: "#4e79a7", shared: "#59a14f", zero: "#a0cbe8", compressed: "#f28e2b", swapped: "#e15759", ballooned: "#b07aa1", untouched: "#dddddd",
};

function vmColor(i: number): string {
  return VM_COLORS[i % VM_COLORS.length] ?? "#4e79a7";
}

function alpha(hex: string, a: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

const TIME_INCRS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
  86400, 172800, 432000, 864000, 1728000, 4320000, 8640000, 17280000, 43200000, 86400000,
];

// ---- chart specs --------------------------------------------------------------------------------

interface LineSpec {
  readonly label: string;
  readonly values: Float64Array;
  readonly color: string;
  readonly dash?: number[];
  readonly width?: number;
  readonly scale?: "y" | "y2";
  readonly unit?: string;
  readonly format?: (v: number | null) => string;
}

interface ChartSpec {
  readonly key: string;
  readonly title: string;
  readonly note?: string;
  readonly yLabel: string;
  readonly y2Label?: string;
  readonly lines: readonly LineSpec[];
  /** Lines are layers, stacked bottom-up (hiding one closes the others up). */
  readonly stacked?: boolean;
  readonly height?: number;
  /** The free-memory chart: the first line coloured by the state, threshold lines as bands. */
  readonly free?: { readonly state: Float64Array; readonly thresholds: readonly { readonly line: number; readonly state: string }[] };
  readonly markers?: ManifestRun["markers"];
  /** A fixed top of the y axis (the bottom is 0). */
  readonly yMax?: number;
}

interface Range {
  min: number;
  max: number;
}

/** All charts of one run: they share the time axis, the cursor and the zoom. */
class RunGroup {
  readonly charts: Chart[] = [];
  readonly full: Range;
  range: Range;

  constructor(readonly index: number, readonly time: Float64Array) {
    // From 0 (the start of the run; the first sample is one interval in) to the last sample.
    const first = time.length > 0 ? Math.min(0, time[0] as number) : 0;
    const last = time.length > 0 ? (time[time.length - 1] as number) : 1;
    this.full = { min: first, max: last > first ? last : first + 1 };
    this.range = { ...this.full };
  }

  setRange(range: Range): void {
    if (!(range.max > range.min)) return;
    this.range = range;
    for (const chart of this.charts) chart.render();
  }
}

class Chart {
  u: uPlot | undefined;
  private layers: Float64Array[] = [];
  private cumulative: Float64Array[] = [];
  private shownKey = "";
  /** Rows of the full data drawn now. */
  rows: Uint32Array = new Uint32Array(0);
  private drawnLayers: (number | null)[][] = [];
  private drawnState: (number | null)[] = [];

  constructor(readonly spec: ChartSpec, readonly group: RunGroup, readonly figure: HTMLElement) {
    group.charts.push(this);
    if (spec.stacked) this.layers = spec.lines.map((line) => line.values);
  }

  private shown(): boolean[] {
    return this.spec.lines.map((_, i) => this.u?.series[i + 1]?.show ?? true);
  }

  /** Full-resolution tops of the stacked layers for the layers shown now. */
  private stackedTops(): Float64Array[] {
    const shown = this.shown();
    const key = shown.map((s) => (s ? 1 : 0)).join("");
    if (key !== this.shownKey) {
      this.cumulative = stackColumns(this.layers, shown);
      this.shownKey = key;
    }
    return this.cumulative;
  }

  private plotWidth(): number {
    if (this.u) return Math.max(50, Math.round(this.u.bbox.width / (window.devicePixelRatio || 1)));
    return Math.max(50, this.figure.clientWidth - 90);
  }

  /** The drawn data for the group's range. */
  private data(): uPlot.AlignedData {
    const { spec, group } = this;
    const shown = this.shown();
    const drawnLines = spec.stacked ? this.stackedTops() : spec.lines.map((line) => line.values);
    const keys = drawnLines.filter((_, i) => shown[i] ?? true);
    if (spec.free) keys.push(spec.free.state);
    this.rows = m4Indices(group.time, keys, group.range.min, group.range.max, this.plotWidth());
    const x = gather(group.time, this.rows) as number[];
    const ys = drawnLines.map((values) => gather(values, this.rows));
    if (spec.stacked) this.drawnLayers = this.layers.map((values) => gather(values, this.rows));
    if (spec.free) this.drawnState = gather(spec.free.state, this.rows);
    return [x, ...ys];
  }

  mount(): void {
    const { spec, group } = this;
    const plot = this.figure.querySelector<HTMLElement>(".plot");
    if (!plot || this.u) return;
    const series: uPlot.Series[] = [
      { label: "time", value: (_u, v) => (v === null || v === undefined ? "--" : clock(v)) },
      ...spec.lines.map((line, i): uPlot.Series => {
        const format = line.format ?? ((v: number | null) => number(v, line.unit ?? ""));
        const s: uPlot.Series = {
          label: line.label,
          stroke: line.color,
          width: line.width ?? 1.5,
          scale: line.scale ?? "y",
          points: { show: false },
          value: (_u, v, _si, idx) => {
            if (spec.stacked) return format(idx === null ? null : (this.drawnLayers[i]?.[idx] ?? null));
            if (spec.free && i === 0) {
              const code = idx === null ? null : (this.drawnState[idx] ?? null);
              const state = code === null ? "" : (STATE_NAMES[code] ?? "unknown");
              return `${format(v)}${state ? ` (${state})` : ""}`;
            }
            return format(v);
          },
        };
        if (line.dash) s.dash = line.dash;
        if (spec.stacked) {
          s.fill = alpha(line.color, 0.85);
          s.stroke = line.color;
          s.width = 0.5;
        }
        if (spec.free && i === 0) {
          s.width = 2;
          s.stroke = (u) => this.stateGradient(u, line.color);
        }
        return s;
      }),
    ];
    const axes: uPlot.Axis[] = [
      { label: "simulated time", incrs: TIME_INCRS, values: (_u, splits) => splits.map((v) => clock(v)), space: 70 },
      { label: spec.yLabel, scale: "y", size: 64, values: (_u, splits, _axis, _space, incr) => axisValues(splits, incr) },
    ];
    const scales: uPlot.Scales = { x: { time: false } };
    // Every metric is at least 0: the y axes start at 0 (and show 0..1 when all is 0).
    const yMax = spec.yMax;
    scales.y = { range: yMax !== undefined ? () => [0, yMax] : (_u, _min, max) => [0, max > 0 ? max * 1.04 : 1] };
    if (spec.y2Label) {
      axes.push({ label: spec.y2Label, scale: "y2", side: 1, size: 64, grid: { show: false }, values: (_u, splits, _axis, _space, incr) => axisValues(splits, incr) });
      scales.y2 = { range: (_u, _min, max) => [0, max > 0 ? max * 1.04 : 1] };
    }
    const options: uPlot.Options = {
      width: Math.max(200, this.figure.clientWidth),
      height: spec.height ?? 240,
      series,
      axes,
      scales,
      legend: {
        live: true,
        markers: { stroke: (_u, i) => (i > 0 ? (spec.lines[i - 1]?.color ?? "#000") : "#000"), fill: (_u, i) => (spec.stacked && i > 0 ? (spec.lines[i - 1]?.color ?? "#000") : "transparent") },
      },
      cursor: {
        // The cursor follows across the run's charts; a drag selection does not (each chart would
        // zoom again on the selection it receives): the zoom goes to all of them via the group.
        sync: { key: `overcommit-run-${group.index}`, filters: { pub: (type) => type !== "mousedown" && type !== "mouseup" } },
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => {
            group.setRange({ ...group.full });
            return null;
          },
        },
      },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const min = u.posToVal(u.select.left, "x");
            const max = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            group.setRange({ min, max });
          },
        ],
        setSeries: [
          (_u, seriesIdx, opts) => {
            if (spec.stacked && seriesIdx !== null && opts.show !== undefined) queueMicrotask(() => this.render());
          },
        ],
        drawClear: [(u) => this.drawBands(u)],
        draw: [(u) => this.drawMarkers(u)],
      },
    };
    if (spec.stacked) options.bands = this.stackBands(spec.lines.map(() => true));
    this.u = new UPlot(options, this.data(), plot);
    this.u.setScale("x", { ...group.range });
  }

  /** Bands that clip each stacked layer's fill to the top of the layer below it. */
  private stackBands(shown: boolean[]): uPlot.Band[] {
    const bands: uPlot.Band[] = [];
    let below = -1;
    shown.forEach((on, i) => {
      if (!on) return;
      if (below >= 0) bands.push({ series: [i + 1, below + 1] });
      below = i;
    });
    return bands;
  }

  /** Redraws the group's range (zoom, a layer shown or hidden, a resize). */
  render(): void {
    const u = this.u;
    if (!u) return;
    const data = this.data();
    u.batch(() => {
      if (this.spec.stacked) {
        u.delBand(null);
        for (const band of this.stackBands(this.shown())) u.addBand(band);
      }
      u.setData(data, false);
      u.setScale("x", { ...this.group.range });
    });
  }

  resize(): void {
    const u = this.u;
    if (!u) return;
    const width = Math.max(200, this.figure.clientWidth);
    if (Math.abs(width - u.width) < 2) return;
    u.setSize({ width, height: u.height });
    this.render();
  }

  /** The free line's colour follows the host state at each drawn row. */
  private stateGradient(u: uPlot, fallback: string): CanvasGradient | string {
    const x = u.data[0];
    const states = this.drawnState;
    if (!x || x.length < 2 || states.length !== x.length) return fallback;
    const left = u.bbox.left;
    const width = u.bbox.width;
    if (!(width > 0)) return fallback;
    const gradient = u.ctx.createLinearGradient(left, 0, left + width, 0);
    const color = (code: number | null): string => STATE_COLORS[code === null ? "unknown" : (STATE_NAMES[code] ?? "unknown")] ?? fallback;
    let current = states[0] ?? null;
    gradient.addColorStop(0, color(current));
    for (let i = 1; i < x.length; i++) {
      const code = states[i] ?? null;
      if (code === current) continue;
      const at = ((u.valToPos(((x[i - 1] as number) + (x[i] as number)) / 2, "x", true) - left) / width);
      const p = Math.min(1, Math.max(0, at));
      gradient.addColorStop(p, color(current));
      gradient.addColorStop(p, color(code));
      current = code;
    }
    gradient.addColorStop(1, color(current));
    return gradient;
  }

  /** Free-memory chart: the band of each state between its threshold lines, under everything else. */
  private drawBands(u: uPlot): void {
    const free = this.spec.free;
    if (!free) return;
    const x = u.data[0];
    if (!x || x.length === 0) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const bottom = u.valToPos(0, "y", true);
    // Band b lies between edge b (a threshold line, or the top) and edge b + 1 (or 0).
    const edges: (number | null)[] = [null, ...free.thresholds.map((t) => t.line), null];
    const states = ["high", ...free.thresholds.map((t) => t.state)];
    const edgeY = (edge: number | null, i: number, fallback: number): number => {
      if (edge === null) return fallback;
      const v = u.data[edge + 1]?.[i];
      return v === null || v === undefined ? Number.NaN : u.valToPos(v, "y", true);
    };
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    states.forEach((state, b) => {
      const upper = edges[b] ?? null;
      const lower = edges[b + 1] ?? null;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < x.length; i++) {
        const py = edgeY(upper, i, top);
        if (Number.isNaN(py)) continue;
        const px = u.valToPos(x[i] as number, "x", true);
        if (!started) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
        started = true;
      }
      for (let i = x.length - 1; i >= 0; i--) {
        const py = edgeY(lower, i, bottom);
        if (Number.isNaN(py)) continue;
        ctx.lineTo(u.valToPos(x[i] as number, "x", true), py);
      }
      ctx.closePath();
      ctx.fillStyle = alpha(STATE_COLORS[state] ?? "#757575", 0.1);
      ctx.fill();
    });
    ctx.restore();
  }

  /** Workload phases as dashed vertical lines with their text. */
  private drawMarkers(u: uPlot): void {
    const markers = this.spec.markers;
    if (!markers || markers.length === 0) return;
    const ctx = u.ctx;
    const { left, top, width, height } = u.bbox;
    const ratio = window.devicePixelRatio || 1;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.strokeStyle = "rgba(60,60,60,0.45)";
    ctx.fillStyle = "rgba(40,40,40,0.85)";
    ctx.setLineDash([3 * ratio, 3 * ratio]);
    ctx.lineWidth = ratio;
    ctx.font = `${10 * ratio}px system-ui, sans-serif`;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    const rowEnds: number[] = [];
    for (const marker of markers) {
      const px = u.valToPos(marker.timeSec, "x", true);
      if (px < left - 1 || px > left + width + 1) continue;
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, top + height);
      ctx.stroke();
      const text = marker.text;
      const textWidth = ctx.measureText(text).width;
      let row = rowEnds.findIndex((end) => end < px);
      if (row < 0) row = rowEnds.length;
      if (row > 5) continue;
      rowEnds[row] = px + textWidth + 8 * ratio;
      const tx = Math.min(px + 3 * ratio, left + width - textWidth - 2 * ratio);
      ctx.fillText(text, tx, top + (12 + 12 * row) * ratio);
    }
    ctx.restore();
  }
}

// ---- building the page ----------------------------------------------------------------------------

function element<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function figure(parent: HTMLElement, spec: ChartSpec, wide: boolean): HTMLElement {
  const fig = element("figure", { class: wide ? "chart wide" : "chart", "data-chart": spec.key });
  const caption = element("figcaption");
  caption.append(element("span", { class: "title" }, spec.title));
  if (spec.note) caption.append(element("span", { class: "note" }, spec.note));
  if (spec.free) {
    const chips = element("span", { class: "states" });
    const seen = new Set(["high", ...spec.free.thresholds.map((t) => t.state)]);
    for (const state of STATE_NAMES) {
      if (!seen.has(state)) continue;
      const chip = element("span", { class: "chip" }, state);
      chip.style.setProperty("--chip", STATE_COLORS[state] ?? "#777");
      chips.append(chip);
    }
    caption.append(chips);
  }
  fig.append(caption, element("div", { class: "plot" }));
  parent.append(fig);
  return fig;
}

interface Columns {
  host(name: HostSeries): Float64Array | undefined;
  vm(vm: number, name: VmSeries): Float64Array | undefined;
}

function hostSpecs(run: ManifestRun, columns: Columns, key: string): ChartSpec[] {
  const specs: ChartSpec[] = [];
  const free = columns.host("FREE");
  const state = columns.host("STATE");
  if (free && state) {
    const lines: LineSpec[] = [{ label: "free (FREE)", values: free, color: "#263238", unit: "MiB" }];
    const thresholds: { line: number; state: string }[] = [];
    const levels: [HostSeries, string, string][] = [
      ["MINFREE_HIGH", "high", "clear"], ["MINFREE_CLEAR", "clear", "soft"], ["MINFREE_SOFT", "soft", "hard"], ["MINFREE_HARD", "hard", "low"], ["MINFREE_LOW", "low", "low"],
    ];
    const hasClear = columns.host("MINFREE_CLEAR") !== undefined;
    for (const [name, own, below] of levels) {
      const values = columns.host(name);
      if (!values) continue;
      const stateBelowLine = name === "MINFREE_HIGH" && !hasClear ? "soft" : below;
      lines.push({ label: name, values, color: STATE_COLORS[own] ?? "#777", dash: [5, 4], width: 1, unit: "MiB" });
      thresholds.push({ line: lines.length - 1, state: stateBelowLine });
    }
    specs.push({
      key: `${key}-free`,
      title: "Host free memory and state",
      note: "bands: the state that much free memory gives (high at or above MINFREE_HIGH, ...); the line's colour: the host's state",
      yLabel: "MiB",
      lines,
      free: { state, thresholds },
      markers: run.markers,
      height: 280,
    });
    const high = columns.host("MINFREE_HIGH");
    let highest = 0;
    if (high) for (let i = 0; i < high.length; i++) if (Number.isFinite(high[i])) highest = Math.max(highest, high[i] as number);
    let lowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < free.length; i++) if (Number.isFinite(free[i])) lowest = Math.min(lowest, free[i] as number);
    if (highest > 0 && lowest < 2.5 * highest) {
      specs.push({
        key: `${key}-free-near`,
        title: "Host free memory near the thresholds",
        note: `the same, with the y axis up to 2.5 × MINFREE_HIGH (${number(2.5 * highest, "MiB")})`,
        yLabel: "MiB",
        lines,
        free: { state, thresholds },
        yMax: 2.5 * highest,
        height: 220,
      });
    }
  }
  const saved = columns.host("HOST_SHRDSVD");
  const zero = columns.host("HOST_ZERO");
  const scan = columns.host("SCAN/s");
  const sharing: LineSpec[] = [];
  // The scan rate first: drawn underneath (it can be busy), the savings on top of it.
  if (scan) sharing.push({ label: "scan rate (SCAN/s)", values: scan, color: "#c9a88e", scale: "y2", unit: "pages/s", width: 1 });
  if (saved) sharing.push({ label: "saved by sharing (HOST_SHRDSVD)", values: saved, color: "#2e7d32", unit: "MiB", width: 2 });
  if (zero) sharing.push({ label: "zero pages (HOST_ZERO)", values: zero, color: "#4e79a7", unit: "MiB", dash: [5, 4] });
  if (sharing.length > 0) {
    specs.push({ key: `${key}-sharing`, title: "Page sharing: savings and scan rate", yLabel: "MiB", y2Label: "pages/s", lines: sharing });
  }
  const rho: LineSpec[] = [];
  run.vms.forEach((vm, i) => {
    const values = columns.vm(i, "rho");
    if (values) rho.push({ label: vm.name, values, color: vmColor(i), format: significant });
  });
  if (rho.length > 0) {
    specs.push({ key: `${key}-rho`, title: "rho: shares per page (lowest gives memory up first)", yLabel: "shares/page", lines: rho });
  }
  return specs;
}

function vmSpecs(run: ManifestRun, columns: Columns, vm: number, key: string): ChartSpec[] {
  const name = run.vms[vm]?.name ?? `VM ${vm}`;
  const col = (c: VmSeries): Float64Array | undefined => columns.vm(vm, c);
  const specs: ChartSpec[] = [];
  const grant = col("GRANT");
  const shrd = col("SHRD");
  const zero = col("ZERO");
  const zip = col("ZIP");
  const swcur = col("SWCUR");
  const ballooned = col("BALLOONED");
  const untouched = col("UNTOUCHED");
  if (grant && shrd && zero && zip && swcur && ballooned && untouched) {
    const layers = pageLayerColumns({ GRANT: grant, SHRD: shrd, ZERO: zero, ZIP: zip, SWCUR: swcur, BALLOONED: ballooned, UNTOUCHED: untouched });
    specs.push({
      key: `${key}-pages`,
      title: `${name}: where its guest pages are`,
      note: "private = GRANT - SHRD; shared without zero pages; ZERO; ZIP; SWCUR; BALLOONED; UNTOUCHED (adds up to MEMSZ)",
      yLabel: "MiB",
      stacked: true,
      height: 260,
      lines: PAGE_LAYERS.map((layer) => ({ label: layer, values: layers[layer], color: LAYER_COLORS[layer] ?? "#777", unit: "MiB" })),
    });
  }
  const balloon: LineSpec[] = [];
  const size = col("MCTLSZ");
  const target = col("MCTLTGT");
  if (size) balloon.push({ label: "size (MCTLSZ)", values: size, color: "#b07aa1", width: 2, unit: "MiB" });
  if (target) balloon.push({ label: "target (MCTLTGT)", values: target, color: "#4e79a7", dash: [6, 4], unit: "MiB" });
  if (balloon.length > 0) specs.push({ key: `${key}-balloon`, title: `${name}: balloon size vs target`, yLabel: "MiB", lines: balloon });
  const rates: LineSpec[] = [];
  const rate = (c: VmSeries, label: string, color: string, dash?: number[]): void => {
    const values = col(c);
    if (values) rates.push({ label, values, color, unit: "MiB/s", ...(dash ? { dash } : {}) });
  };
  rate("SWW/s", "swap out (SWW/s)", "#e15759");
  rate("SWR/s", "swap in (SWR/s)", "#e15759", [5, 3]);
  rate("ZIP/s", "compress (ZIP/s)", "#f28e2b");
  rate("UNZIP/s", "decompress (UNZIP/s)", "#f28e2b", [5, 3]);
  if (rates.length > 0) specs.push({ key: `${key}-rates`, title: `${name}: swap and compression rates`, yLabel: "MiB/s", lines: rates });
  const active: LineSpec[] = [];
  const est = col("TCHD");
  const truth = col("TCHD_TRUE");
  if (est) active.push({ label: "estimate (TCHD)", values: est, color: "#4e79a7", width: 2, unit: "MiB" });
  if (truth) active.push({ label: "truth (TCHD_TRUE)", values: truth, color: "#263238", dash: [5, 4], unit: "MiB" });
  if (active.length > 0) specs.push({ key: `${key}-active`, title: `${name}: active memory, estimate vs truth`, yLabel: "MiB", lines: active });
  return specs;
}

interface ReportApi {
  ready: boolean;
  /** Milliseconds since navigation start when the page's script started (the HTML is parsed). */
  scriptMs: number;
  /** Milliseconds since navigation start when the first charts were drawn and painted. */
  loadMs: number;
  /** Milliseconds spent: base64, gunzip, decoding columns (as needed), building charts. */
  timings: { base64: number; gunzip: number; decode: number; charts: number };
  samples: number;
  readonly charts: Chart[];
  errors: string[];
  showRun(index: number): void;
}

declare global {
  interface Window {
    overcommitReport?: ReportApi;
  }
}

/** Un-gzips into one buffer of the known size (the browser's own inflate, chunk by chunk). */
async function ungzip(bytes: Uint8Array, size: number): Promise<Uint8Array> {
  const reader = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip")).getReader();
  let out = new Uint8Array(size);
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.length > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, length + value.length));
      grown.set(out.subarray(0, length));
      out = grown;
    }
    out.set(value, length);
    length += value.length;
  }
  return length === out.length ? out : out.subarray(0, length);
}

function base64Bytes(text: string): Uint8Array {
  const native = (Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array }).fromBase64;
  if (native) return native(text);
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

async function start(): Promise<void> {
  const groups: RunGroup[] = [];
  const api: ReportApi = {
    ready: false,
    scriptMs: performance.now(),
    loadMs: 0,
    timings: { base64: 0, gunzip: 0, decode: 0, charts: 0 },
    samples: 0,
    get charts() {
      return groups.flatMap((g) => g.charts);
    },
    errors: [],
    showRun: () => {},
  };
  window.overcommitReport = api;
  const root = document.getElementById(CHARTS_ID);
  const manifestText = document.getElementById(MANIFEST_ID)?.textContent;
  if (!root || !manifestText) return;
  const manifest = JSON.parse(manifestText) as Manifest;
  if (manifest.runs.length === 0) {
    api.ready = true;
    api.loadMs = performance.now();
    document.documentElement.dataset.ready = "true";
    return;
  }
  let t = performance.now();
  const packed = base64Bytes((document.getElementById(DATA_ID)?.textContent ?? "").trim());
  api.timings.base64 = performance.now() - t;
  t = performance.now();
  const blob = manifest.compression === "gzip" ? await ungzip(packed, manifest.rawBytes) : packed;
  api.timings.gunzip = performance.now() - t;
  // Columns are decoded when a chart first needs them (a hidden run or a closed VM costs nothing).
  const encodings = new Map(manifest.columns.map((c) => [c.key, c]));
  const decoded = new Map<string, Float64Array>();
  const column = (key: string | undefined): Float64Array | undefined => {
    if (key === undefined) return undefined;
    let values = decoded.get(key);
    const encoding = encodings.get(key);
    if (!values && encoding) {
      const started = performance.now();
      values = decodeColumn(encoding, blob);
      api.timings.decode += performance.now() - started;
      decoded.set(key, values);
    }
    return values;
  };
  const timed = (build: () => void): void => {
    const started = performance.now();
    build();
    api.timings.charts += performance.now() - started;
  };

  const tabs = element("nav", { class: "tabs", role: "tablist" });
  const sections: HTMLElement[] = [];
  const builders: (() => void)[] = [];
  manifest.runs.forEach((run, r) => {
    const time = column(run.time) ?? new Float64Array(0);
    api.samples += time.length;
    const columns: Columns = {
      host: (name) => column(run.host[name]),
      vm: (vm, name) => column(run.vms[vm]?.columns[name]),
    };
    const group = new RunGroup(r, time);
    groups.push(group);
    const section = element("section", { class: "run", "data-run": String(r) });
    section.hidden = r !== manifest.runs.length - 1;
    sections.push(section);
    root.append(section);
    const heading = element("h2", {}, manifest.runs.length > 1 ? run.label : `Over simulated time${run.label ? `: ${run.label}` : ""}`);
    section.append(heading, element("p", { class: "hint" }, `${time.length.toLocaleString("en-US")} samples, all embedded; each chart draws at most a few points per pixel column (min/max per column). Drag across a chart to zoom every chart of this run, double-click to zoom out; click a legend entry to hide or show it.`));
    if (time.length === 0) {
      section.append(element("p", {}, "No samples."));
      builders.push(() => {});
      return;
    }
    const hostGrid = element("div", { class: "grid" });
    section.append(hostGrid);
    const vmSections = run.vms.map((vm, v) => {
      const details = element("details", { class: "vm" });
      details.open = v < 8;
      const summary = element("summary");
      const swatch = element("span", { class: "swatch" });
      swatch.style.background = vmColor(v);
      summary.append(swatch, document.createTextNode(vm.name));
      const grid = element("div", { class: "grid two" });
      details.append(summary, grid);
      section.append(details);
      let charts: Chart[] | undefined;
      const build = (): void =>
        timed(() => {
          charts ??= vmSpecs(run, columns, v, `run${r}-vm${v}`).map((spec) => new Chart(spec, group, figure(grid, spec, false)));
          for (const chart of charts) chart.mount();
        });
      return { details, build };
    });
    let built = false;
    builders.push(() => {
      if (built) return;
      built = true;
      timed(() => {
        for (const spec of hostSpecs(run, columns, `run${r}`)) new Chart(spec, group, figure(hostGrid, spec, true)).mount();
      });
      for (const { details, build } of vmSections) {
        if (details.open) build();
        details.addEventListener("toggle", () => {
          if (details.open) build();
        });
      }
    });
  });

  const showRun = (index: number): void => {
    sections.forEach((section, i) => {
      section.hidden = i !== index;
    });
    tabs.querySelectorAll("button").forEach((button) => button.setAttribute("aria-selected", String(button.dataset.run === String(index))));
    builders[index]?.();
    for (const chart of groups[index]?.charts ?? []) chart.resize();
  };
  api.showRun = showRun;
  if (manifest.runs.length > 1) {
    manifest.runs.forEach((run, r) => {
      const button = element("button", { role: "tab", "data-run": String(r) }, run.label);
      button.addEventListener("click", () => showRun(r));
      tabs.append(button);
    });
    root.prepend(tabs);
  }
  showRun(manifest.runs.length - 1);

  let resizeTimer: number | undefined;
  window.addEventListener("resize", () => {
    if (resizeTimer !== undefined) window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      for (const chart of api.charts) chart.resize();
    }, 120);
  });
  // Ready once the first frame with the charts is painted.
  await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
  api.loadMs = performance.now();
  api.ready = true;
  document.documentElement.dataset.ready = "true";
}

start().catch((error: unknown) => {
  const message = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : String(error);
  const api = window.overcommitReport;
  if (api) api.errors.push(message);
  const root = document.getElementById(CHARTS_ID);
  if (root) root.append(element("pre", { class: "error" }, `The charts could not be drawn: ${message}`));
  console.error(error);
});
