// One self-contained HTML file: styles, uPlot (its browser build and CSS, read from node_modules),
// the page's script (src/report/client/, bundled in client.generated.ts) and every sample inlined;
// a Content Security Policy forbids the page any request. The summary tables, the facts and the scan view are plain
// HTML (readable without the script); the charts are drawn by the script from the embedded data.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import type { ImageScanEntry } from "../scan/scan-images.ts";
import { encodeColumns } from "./codec.ts";
import { CLIENT_JS } from "./client.generated.ts";
import { CHARTS_ID, DATA_ID, MANIFEST_ID, type Manifest, type ManifestRun, type ManifestVm } from "./manifest.ts";
import { HOST_SERIES, VM_SERIES, type HostSeries, type SeriesRun, type VmSeries } from "./series.ts";

export interface SummaryTable {
  readonly caption: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly note?: string;
}

/** The scan of memory images (`overcommit scan --report`). */
export interface ScanView {
  /** Each image's counts, named by its file name instead of its path. */
  readonly images: readonly (Omit<ImageScanEntry, "path"> & { readonly name: string })[];
  readonly pairShared?: readonly (readonly number[])[];
}

export interface ReportDocument {
  readonly kind: Manifest["kind"];
  readonly title: string;
  readonly subtitle?: string;
  /** Key facts (scenario, seed, scale, ...), shown as a list. */
  readonly facts: readonly (readonly [string, string])[];
  /** How to run it again: the command line and the scenario. */
  readonly reproduce?: { readonly command?: string; readonly scenarioJson?: string; readonly note?: string };
  readonly tables: readonly SummaryTable[];
  /** Text blocks in collapsible sections (e.g. the run's story). */
  readonly texts?: readonly { readonly title: string; readonly lines: readonly string[]; readonly open?: boolean }[];
  readonly runs: readonly (SeriesRun & { readonly scale?: number })[];
  readonly scan?: ScanView;
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESC[c] ?? c);
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function hasValues(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i] as number)) return true;
  return false;
}

/** The manifest and the blob (uncompressed) for the runs' series; all-NaN columns are left out. */
export function packRuns(runs: ReportDocument["runs"], kind: Manifest["kind"]): { manifest: Omit<Manifest, "compression" | "rawBytes">; blob: Uint8Array } {
  const columns: { key: string; values: Float64Array }[] = [];
  const manifestRuns: ManifestRun[] = runs.map((run, r) => {
    const timeKey = `r${r}/TIME`;
    columns.push({ key: timeKey, values: run.time });
    const host: Partial<Record<HostSeries, string>> = {};
    for (const name of HOST_SERIES) {
      const values = run.host[name];
      if (!hasValues(values)) continue;
      const key = `r${r}/host/${name}`;
      host[name] = key;
      columns.push({ key, values });
    }
    const vms: ManifestVm[] = run.vms.map((vm, v) => {
      const vmColumns: Partial<Record<VmSeries, string>> = {};
      for (const name of VM_SERIES) {
        const values = vm.columns[name];
        if (!hasValues(values)) continue;
        const key = `r${r}/vm${v}/${name}`;
        vmColumns[name] = key;
        columns.push({ key, values });
      }
      return { name: vm.name, columns: vmColumns };
    });
    return { label: run.label, samples: run.time.length, time: timeKey, host, vms, markers: run.markers.slice(0, 500), scale: run.scale ?? 1 };
  });
  const { columns: encodings, blob } = encodeColumns(columns);
  return { manifest: { version: 1, kind, runs: manifestRuns, columns: encodings }, blob };
}

/** uPlot's browser build (it defines the global `uPlot`), from node_modules. */
function uplotScript(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8").replace(/<\/script/gi, "<\\/script");
}

function uplotCss(): string {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8");
}

function uplotVersion(): string {
  const require = createRequire(import.meta.url);
  try {
    return (JSON.parse(readFileSync(require.resolve("uplot/package.json"), "utf8")) as { version?: string }).version ?? "";
  } catch {
    return "";
  }
}

const NUMERIC_CELL = /^[-+]?[\d,.]+(?: ?(?:%|MiB|s|GiB|pages|pages\/s|MiB\/s))?$/;

function tableHtml(table: SummaryTable): string {
  const head = table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = table.rows
    .map((row) => `<tr>${row.map((cell, i) => (i === 0 ? `<th scope="row">${escapeHtml(cell)}</th>` : `<td${NUMERIC_CELL.test(cell) ? ' class="num"' : ""}>${escapeHtml(cell)}</td>`)).join("")}</tr>`)
    .join("\n");
  return `<div class="table-wrap"><table>
<caption>${escapeHtml(table.caption)}</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody></table>${table.note ? `<p class="note">${escapeHtml(table.note)}</p>` : ""}</div>`;
}

function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

/** Per-image bars (zero, shared, private; compressible part of private) and the pair matrix. */
function scanHtml(scan: ScanView): string {
  const maxPages = Math.max(1, ...scan.images.map((image) => image.pages));
  const compress = scan.images.some((image) => image.compressiblePages !== undefined);
  const bars = scan.images
    .map((image, i) => {
      const sharedNonZero = Math.max(0, image.sharedPages - image.zeroPages);
      const zeroShared = image.sharedPages - sharedNonZero;
      const zeroPrivate = image.zeroPages - zeroShared;
      const compressible = image.compressiblePages ?? 0;
      const privateRest = Math.max(0, image.privatePages - zeroPrivate - compressible);
      const segments: [string, number, string][] = [
        ["zero", image.zeroPages, "zero pages"],
        ["shared", sharedNonZero, "shared with another page (not zero)"],
        ...(compress ? ([["compressible", Math.min(compressible, image.privatePages - zeroPrivate), "private, compressible to 2 KiB"]] as [string, number, string][]) : []),
        ["private", privateRest, compress ? "private, not compressible" : "private"],
      ];
      const total = image.pages;
      const width = (100 * total) / maxPages;
      const spans = segments
        .filter(([, n]) => n > 0)
        .map(([cls, n, what]) => `<span class="seg ${cls}" style="width:${((100 * n) / Math.max(1, total)).toFixed(3)}%" title="${escapeHtml(`${what}: ${int(n)} pages (${percent(n, total)})`)}"></span>`)
        .join("");
      return `<tr data-image="${i}"><th scope="row" title="${escapeHtml(image.name)}">${escapeHtml(image.name)}</th><td class="num">${int(total)}</td><td class="barcell"><div class="bar" style="width:${width.toFixed(3)}%">${spans}</div></td><td class="num">${percent(image.sharedPages, total)}</td>${compress ? `<td class="num">${percent(image.compressiblePages ?? 0, Math.max(1, image.privatePages))}</td>` : ""}</tr>`;
    })
    .join("\n");
  const legend = [
    ["zero", "zero pages"],
    ["shared", "shared (not zero)"],
    ...(compress ? [["compressible", "private, compresses to ≤ 2 KiB"]] : []),
    ["private", compress ? "private, incompressible" : "private"],
  ]
    .map(([cls, text]) => `<span class="key"><span class="seg ${cls ?? ""}"></span>${escapeHtml(text ?? "")}</span>`)
    .join(" ");
  let matrix = "";
  const pairs = scan.pairShared;
  if (pairs && pairs.length > 0) {
    let max = 1;
    pairs.forEach((row, i) => row.forEach((v, j) => {
      if (i !== j) max = Math.max(max, v);
    }));
    const names = scan.images.map((image) => image.name);
    const head = names.map((name, j) => `<th scope="col" title="${escapeHtml(name)}"><span>${escapeHtml(name)}</span></th>`).join("");
    const rows = pairs
      .map((row, i) => {
        const cells = row
          .map((v, j) => {
            const shade = i === j ? 0 : Math.sqrt(v / max);
            const style = i === j ? "" : ` style="background:rgba(89,161,79,${(0.08 + 0.8 * shade).toFixed(3)});${shade > 0.85 ? "color:#fff;" : ""}"`;
            const what = i === j ? `pages of ${names[i] ?? ""} shared only with other pages of itself` : `pages of ${names[i] ?? ""} on a frame that ${names[j] ?? ""} also maps`;
            return `<td class="num${i === j ? " diag" : ""}"${style} title="${escapeHtml(`${what}: ${int(v)}`)}">${int(v)}</td>`;
          })
          .join("");
        return `<tr><th scope="row" title="${escapeHtml(names[i] ?? "")}">${escapeHtml(names[i] ?? "")}</th>${cells}</tr>`;
      })
      .join("\n");
    matrix = `<h2>Who shares with whom</h2>
<p class="note">Row <i>i</i>, column <i>j</i>: pages of image <i>i</i> mapped to a frame that a page of image <i>j</i> also maps (after the scan converged). A page on a frame of three images counts in two columns, so a row can add up to more than the image's shared pages; the two halves differ where an image holds several copies of a page. Diagonal (grey): pages of <i>i</i> shared only with other pages of <i>i</i>. Per image, diagonal + pages shared with any other image = its shared pages.</p>
<div class="table-wrap"><table class="matrix"><thead><tr><th></th>${head}</tr></thead><tbody>
${rows}
</tbody></table></div>`;
  }
  return `<section class="scan">
<h2>Per image: where its pages went</h2>
<p class="legend">${legend}</p>
<div class="table-wrap"><table class="bars"><thead><tr><th>image</th><th>pages</th><th class="barhead">zero · shared · ${compress ? "compressible · " : ""}private</th><th>shared</th>${compress ? "<th>compressible of private</th>" : ""}</tr></thead><tbody>
${bars}
</tbody></table></div>
${matrix}
</section>`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --bg2: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1500px; margin: 0 auto; padding: 18px 24px 60px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 26px 0 6px; }
.subtitle { color: var(--muted); margin: 0 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0 14px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; margin: 10px 0 16px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 9px; text-align: left; white-space: nowrap; }
thead th { background: var(--bg2); font-weight: 600; }
td.num, thead th { text-align: right; }
thead th:first-child { text-align: left; }
tbody th { font-weight: 600; }
p.note, .hint { color: var(--muted); font-size: 12.5px; margin: 4px 0; max-width: 1100px; }
details.block { margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; }
details.block > summary { cursor: pointer; font-weight: 600; }
pre { background: var(--bg2); padding: 8px 10px; border-radius: 6px; overflow-x: auto; font-size: 12.5px; }
.tabs { display: flex; gap: 4px; margin: 18px 0 0; border-bottom: 1px solid var(--line); }
.tabs button { font: inherit; border: 1px solid var(--line); border-bottom: none; background: var(--bg2); padding: 6px 14px; border-radius: 6px 6px 0 0; cursor: pointer; }
.tabs button[aria-selected="true"] { background: #fff; font-weight: 600; position: relative; top: 1px; }
.grid { display: grid; grid-template-columns: 1fr; gap: 10px 18px; }
.grid.two { grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); }
figure.chart { margin: 6px 0; min-width: 0; }
figure.chart figcaption { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; margin-bottom: 2px; }
figure.chart .title { font-weight: 600; }
figure.chart .note { color: var(--muted); font-size: 12px; }
.states { display: inline-flex; gap: 6px; font-size: 12px; }
.chip { padding: 0 6px; border-radius: 9px; color: #fff; background: var(--chip); }
details.vm { margin: 14px 0 4px; }
details.vm > summary { cursor: pointer; font-size: 16px; font-weight: 600; padding: 4px 0; border-bottom: 1px solid var(--line); }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 7px; vertical-align: -1px; }
.uplot { font-family: inherit; }
.u-legend { font-size: 12px; }
.u-legend .u-series > * { padding: 2px 3px; }
pre.error { color: #b00020; white-space: pre-wrap; }
.scan table.bars td.barcell { width: 60%; min-width: 320px; }
.scan table.bars thead th.barhead { text-align: left; }
.bar { display: flex; height: 16px; border-radius: 3px; overflow: hidden; background: #eee; }
.seg { display: inline-block; height: 100%; }
.key .seg { width: 14px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 5px; }
.key { margin-right: 12px; font-size: 12.5px; }
.seg.zero { background: #a0cbe8; } .seg.shared { background: #59a14f; } .seg.compressible { background: #f1ce63; } .seg.private { background: #4e79a7; }
table.matrix td { min-width: 60px; }
table.matrix td.diag { background: #eaeaea; color: #555; }
table.matrix thead th span { display: inline-block; max-width: 140px; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
`;

export interface BuildOptions {
  /** gzip the embedded data (default true; false only for debugging). */
  compress?: boolean;
}

/** The whole page, as a string. */
export async function buildReportHtml(doc: ReportDocument, options: BuildOptions = {}): Promise<string> {
  const { manifest, blob } = packRuns(doc.runs, doc.kind);
  const compress = options.compress ?? true;
  const packed = compress ? gzipSync(blob, { level: 6 }) : blob;
  const fullManifest: Manifest = { ...manifest, compression: compress ? "gzip" : "none", rawBytes: blob.length };
  const facts = doc.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("");
  const reproduce = doc.reproduce
    ? `<details class="block"><summary>Reproduce</summary>
${doc.reproduce.command ? `<p>Command:</p><pre class="command">${escapeHtml(doc.reproduce.command)}</pre>` : ""}
${doc.reproduce.note ? `<p class="note">${escapeHtml(doc.reproduce.note)}</p>` : ""}
${doc.reproduce.scenarioJson ? `<p>Scenario (JSON):</p><pre class="scenario">${escapeHtml(doc.reproduce.scenarioJson)}</pre>` : ""}
</details>`
    : "";
  const texts = (doc.texts ?? [])
    .map((t) => `<details class="block"${t.open ? " open" : ""}><summary>${escapeHtml(t.title)}</summary><pre>${escapeHtml(t.lines.join("\n"))}</pre></details>`)
    .join("\n");
  const version = uplotVersion();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="overcommit">
<title>${escapeHtml(doc.title)}</title>
<style>${uplotCss()}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(doc.title)}</h1>
${doc.subtitle ? `<p class="subtitle">${escapeHtml(doc.subtitle)}</p>` : ""}
</header>
<section id="summary">
<dl class="facts">${facts}</dl>
${doc.tables.map(tableHtml).join("\n")}
${reproduce}
${texts}
</section>
${doc.scan ? scanHtml(doc.scan) : ""}
<div id="${CHARTS_ID}"></div>
<footer>Written by overcommit. Self-contained: the data, uPlot${version ? ` ${version}` : ""} (MIT licence, © Leon Sorokin) and the page's script are inline; the page makes no requests.</footer>
</main>
<script type="application/json" id="${MANIFEST_ID}">${scriptJson(fullManifest)}</script>
<script type="text/plain" id="${DATA_ID}">${Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength).toString("base64")}</script>
<script>${uplotScript()}</script>
<script>${CLIENT_JS}</script>
</body>
</html>
`;
}
