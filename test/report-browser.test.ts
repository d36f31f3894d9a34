// The HTML report in a real browser: Debian's Chromium, headless, driven by playwright-core (no
// browser is ever downloaded). Each page loads from a file with no console error, no page error and
// no request; every chart draws its series (coloured pixels inside its plot); a legend click hides
// a series (and a stacked layer closes the stack up); a drag zooms every chart of a run and a
// double-click zooms out; a page with a million samples loads in seconds and still draws a few
// points per pixel, and all of them once zoomed in. Screenshots go to <tmpdir>/overcommit-report-test/.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildReportHtml } from "../src/report/html.ts";
import { runDocument, scanDocument } from "../src/report/build.ts";
import { syntheticRun } from "../src/report/synthetic.ts";
import { runScenario } from "../src/sim/run.ts";
import { scanImages } from "../src/scan/scan-images.ts";
import { narrate } from "../src/cli/run.ts";
import { IMAGE_NAMES, imagePath } from "./helpers/fixtures.ts";
import { storyScenario } from "./helpers/scenarios.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];
const OUT = join(tmpdir(), "overcommit-report-test");
const profile = mkdtempSync(join(tmpdir(), "overcommit-chromium-profile-"));
let context: BrowserContext;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `test/report-browser.test.ts checks the HTML report in a real browser and needs Chromium at ${CHROMIUM} ` +
        `(playwright-core drives it; no browser is downloaded). Install it: apt-get install -y chromium (Debian; .ci/run does this when it is missing).`,
    );
  }
  mkdirSync(OUT, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 1000 },
    offline: true,
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
});

interface Opened {
  readonly page: Page;
  /** Console errors, page errors and requests for anything but the page itself. */
  readonly problems: string[];
  readonly wallMs: number;
}

async function open(file: string): Promise<Opened> {
  const page = await context.newPage();
  const problems: string[] = [];
  const url = pathToFileURL(file).href;
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("request", (request) => {
    if (request.url() !== url) problems.push(`request: ${request.url().slice(0, 120)}`);
  });
  const started = performance.now();
  await page.goto(url);
  await page.waitForFunction(() => window.overcommitReport?.ready === true || (window.overcommitReport?.errors.length ?? 0) > 0, null, { timeout: 90_000 });
  const wallMs = performance.now() - started;
  const errors = await page.evaluate(() => window.overcommitReport?.errors ?? []);
  problems.push(...errors.map((e) => `report error: ${e}`));
  return { page, problems, wallMs };
}

/** Per mounted chart: its title, the opaque saturated pixels in its plot area (series, not grid or axes), rows drawn. */
async function drawnCharts(page: Page): Promise<{ title: string; coloured: number; rows: number; width: number }[]> {
  return page.evaluate(() =>
    (window.overcommitReport?.charts ?? [])
      .filter((chart) => chart.u !== undefined)
      .map((chart) => {
        const u = chart.u as NonNullable<typeof chart.u>;
        const { left, top, width, height } = u.bbox;
        // The plot area and a few pixels around it (a line at 0 runs along its bottom edge).
        const margin = 3 * (window.devicePixelRatio || 1);
        // Read a copy (a canvas made for reading: no readback warning on the page's own canvases).
        const copy = document.createElement("canvas");
        copy.width = u.ctx.canvas.width;
        copy.height = u.ctx.canvas.height;
        const reader = copy.getContext("2d", { willReadFrequently: true });
        if (!reader) return { title: chart.spec.title, coloured: 0, rows: 0, width: 0 };
        reader.drawImage(u.ctx.canvas, 0, 0);
        const pixels = reader.getImageData(Math.round(left), Math.round(top - margin), Math.max(1, Math.round(width)), Math.max(1, Math.round(height + 2 * margin))).data;
        let coloured = 0;
        for (let i = 0; i < pixels.length; i += 4) {
          const r = pixels[i] ?? 0;
          const g = pixels[i + 1] ?? 0;
          const b = pixels[i + 2] ?? 0;
          const a = pixels[i + 3] ?? 0;
          if (a > 100 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
        return { title: chart.spec.title, coloured, rows: u.data[0]?.length ?? 0, width: u.bbox.width };
      }),
  );
}

function expectAllDrawn(charts: { title: string; coloured: number }[]): void {
  expect(charts.length).toBeGreaterThan(0);
  for (const chart of charts) expect(chart.coloured, `coloured pixels in "${chart.title}"`).toBeGreaterThan(80);
}

async function plotOf(page: Page, title: string): Promise<string> {
  const index = await page.evaluate((t) => (window.overcommitReport?.charts ?? []).findIndex((c) => c.spec.title === t && c.u !== undefined), title);
  expect(index, `a drawn chart "${title}"`).toBeGreaterThanOrEqual(0);
  return page.evaluate((i) => {
    const chart = window.overcommitReport?.charts[i];
    chart?.figure.setAttribute("data-test", `chart-${i}`);
    return `[data-test="chart-${i}"]`;
  }, index);
}

const canvasOf = (page: Page, selector: string): Promise<string> =>
  page.evaluate((s) => document.querySelector<HTMLCanvasElement>(`${s} canvas`)?.toDataURL() ?? "", selector);

describe("report of a run (the seeds' story, idle tax 0 and 0.75)", () => {
  let file: string;

  beforeAll(async () => {
    const results = [0, 0.75].map((idleTax) => runScenario(storyScenario({ scale: 1 / 32, idleTax })));
    const doc = runDocument({
      results,
      scenario: { story: "seeds' story", scale: 1 / 32 },
      scenarioName: "seeds-story",
      scale: 1 / 32,
      command: "overcommit run --scale 1/32",
      narratives: results.map((r) => narrate(r)),
    });
    file = join(OUT, "report-run.html");
    writeFileSync(file, await buildReportHtml(doc));
  }, 120_000);

  it("loads with no error and no request, and every chart draws", async () => {
    const { page, problems } = await open(file);
    expect(problems).toEqual([]);
    expectAllDrawn(await drawnCharts(page));
    const titles = (await drawnCharts(page)).map((c) => c.title);
    expect(titles).toEqual(expect.arrayContaining([
      "Host free memory and state", "Page sharing: savings and scan rate", "rho: shares per page (lowest gives memory up first)",
      "VM1: where its guest pages are", "VM1: balloon size vs target", "VM1: swap and compression rates", "VM1: active memory, estimate vs truth",
      "VM2: where its guest pages are",
    ]));
    // The other run's charts draw when its tab is chosen.
    const before = titles.length;
    await page.getByRole("tab", { name: "idle tax 0", exact: true }).click();
    const both = await drawnCharts(page);
    expect(both.length).toBe(2 * before);
    expectAllDrawn(both);
    await page.getByRole("tab", { name: "idle tax 0.75" }).click();
    expect(await page.locator("#summary table").first().textContent()).toContain("SZTGT");
    await page.screenshot({ path: join(OUT, "report-run.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it("hides a series from the legend, and a hidden page layer closes the stack up", async () => {
    const { page, problems } = await open(file);
    const free = await plotOf(page, "Host free memory and state");
    const before = await canvasOf(page, free);
    await page.locator(`${free} .u-legend .u-series`).nth(1).click();
    expect(await page.evaluate((s) => document.querySelector(`${s} .u-legend .u-series:nth-child(2)`)?.classList.contains("u-off"), free)).toBe(true);
    const shown = await page.evaluate(() => window.overcommitReport?.charts.find((c) => c.spec.title === "Host free memory and state")?.u?.series[1]?.show);
    expect(shown).toBe(false);
    expect(await canvasOf(page, free)).not.toBe(before);
    await page.locator(`${free} .u-legend .u-series`).nth(1).click();
    expect(await page.evaluate(() => window.overcommitReport?.charts.find((c) => c.spec.title === "Host free memory and state")?.u?.series[1]?.show)).toBe(true);

    const pages = await plotOf(page, "VM2: where its guest pages are");
    const top = (): Promise<number> =>
      page.evaluate(() => {
        const u = window.overcommitReport?.charts.find((c) => c.spec.title === "VM2: where its guest pages are")?.u;
        const shared = (u?.data[2] ?? []) as (number | null)[];
        return shared.reduce<number>((sum, v) => sum + (v ?? 0), 0);
      });
    const sharedTopBefore = await top();
    const stackBefore = await canvasOf(page, pages);
    await page.locator(`${pages} .u-legend .u-series`).nth(1).click(); // "private"
    await page.waitForFunction(() => {
      const u = window.overcommitReport?.charts.find((c) => c.spec.title === "VM2: where its guest pages are")?.u;
      return u?.series[1]?.show === false;
    });
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)));
    // The shared layer's top is now just the shared pages: lower by all the private ones.
    expect(await top()).toBeLessThan(sharedTopBefore);
    expect(await canvasOf(page, pages)).not.toBe(stackBefore);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it("zooms every chart of the run with a drag, and back out with a double-click", async () => {
    const { page, problems } = await open(file);
    const free = await plotOf(page, "Host free memory and state");
    const over = page.locator(`${free} .u-over`);
    await over.scrollIntoViewIfNeeded();
    const box = await over.boundingBox();
    if (!box) throw new Error("no plot area");
    const ranges = (): Promise<{ min: number; max: number }[]> =>
      page.evaluate(() =>
        (window.overcommitReport?.charts ?? [])
          .filter((c) => c.u !== undefined && c.group.index === 1)
          .map((c) => ({ min: c.u?.scales.x?.min ?? Number.NaN, max: c.u?.scales.x?.max ?? Number.NaN })),
      );
    const full = await ranges();
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    const zoomed = await ranges();
    expect(zoomed.length).toBe(full.length);
    const first = zoomed[0];
    if (!first || !full[0]) throw new Error("no charts");
    for (const r of zoomed) expect(r).toEqual(first);
    // The drag covered 30% to 50% of the plot: a fifth of the run.
    const fraction = (first.max - first.min) / (full[0].max - full[0].min);
    expect(fraction).toBeGreaterThan(0.18);
    expect(fraction).toBeLessThan(0.22);
    await over.dblclick({ position: { x: box.width / 2, y: box.height / 2 } });
    expect(await ranges()).toEqual(full);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});

describe("report of a scan", () => {
  it("shows each image's pages and the pair matrix, with no error", async () => {
    const report = await scanImages(IMAGE_NAMES.map(imagePath), { seed: 1n, compress: true, pairs: true });
    const file = join(OUT, "report-scan.html");
    writeFileSync(file, await buildReportHtml(scanDocument(report, "overcommit scan --compress test/fixtures/images/*.gz")));
    const { page, problems } = await open(file);
    expect(problems).toEqual([]);
    expect(await page.locator("table.matrix tbody td").count()).toBe(IMAGE_NAMES.length ** 2);
    const widths = await page.locator("table.bars .bar").evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
    expect(widths).toHaveLength(IMAGE_NAMES.length);
    for (const w of widths) expect(w).toBeGreaterThan(50);
    expect(await page.locator("table.bars .seg.compressible").count()).toBe(IMAGE_NAMES.length);
    await page.screenshot({ path: join(OUT, "report-scan.png"), fullPage: true });
    await page.close();
  }, 120_000);
});

describe("a million samples", () => {
  it("loads in seconds, draws a few points per pixel, and every sample once zoomed in", async () => {
    const samples = 1_000_000;
    const run = syntheticRun({ samples, vms: 1 });
    const file = join(OUT, "report-1M.html");
    const built = performance.now();
    const html = await buildReportHtml({ kind: "metrics", title: "a million samples", facts: [["samples", samples.toLocaleString("en-US")]], tables: [], runs: [run] });
    const buildMs = performance.now() - built;
    writeFileSync(file, html);
    const { page, problems, wallMs } = await open(file);
    expect(problems).toEqual([]);
    const api = await page.evaluate(() => ({ loadMs: window.overcommitReport?.loadMs ?? 0, scriptMs: window.overcommitReport?.scriptMs ?? 0, timings: window.overcommitReport?.timings, samples: window.overcommitReport?.samples }));
    expect(api.samples).toBe(samples);
    const charts = await drawnCharts(page);
    expectAllDrawn(charts);
    const points = charts.reduce((sum, c) => sum + c.rows, 0);
    for (const chart of charts) expect(chart.rows, `rows drawn in "${chart.title}"`).toBeLessThan(chart.width * 9);
    console.log(
      `report with ${samples.toLocaleString("en-US")} samples x ${html.length > 0 ? "27 columns" : ""}: ` +
        `${(html.length / 2 ** 20).toFixed(1)} MiB HTML built in ${(buildMs / 1000).toFixed(2)} s; ` +
        `in Chromium: ready ${(api.loadMs / 1000).toFixed(2)} s after navigation (HTML parsed at ${(api.scriptMs / 1000).toFixed(2)} s; ` +
        `base64 ${api.timings?.base64.toFixed(0)} ms, gunzip ${api.timings?.gunzip.toFixed(0)} ms, decode ${api.timings?.decode.toFixed(0)} ms, charts ${api.timings?.charts.toFixed(0)} ms), ` +
        `${(wallMs / 1000).toFixed(2)} s from goto; ${charts.length} charts draw ${points.toLocaleString("en-US")} points in all`,
    );
    await page.screenshot({ path: join(OUT, "report-1M.png"), fullPage: false });
    // Zoom to a few pixels' worth: every sample in range is drawn.
    const free = await plotOf(page, "Host free memory and state");
    await page.locator(`${free} .u-over`).scrollIntoViewIfNeeded();
    const box = await page.locator(`${free} .u-over`).boundingBox();
    if (!box) throw new Error("no plot area");
    await page.mouse.move(box.x + box.width * 0.5, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5 + 4, box.y + 20, { steps: 2 });
    await page.mouse.up();
    const zoomed = await page.evaluate(() => {
      const u = window.overcommitReport?.charts.find((c) => c.spec.title === "Host free memory and state")?.u;
      const x = (u?.data[0] ?? []) as number[];
      return { min: u?.scales.x?.min ?? 0, max: u?.scales.x?.max ?? 0, x: [...x] };
    });
    const inRange = zoomed.x.filter((t) => t >= zoomed.min && t <= zoomed.max);
    // Samples are 1 s apart: all of them, consecutive.
    expect(inRange.length).toBeGreaterThan(100);
    expect(inRange.length).toBe(Math.floor(zoomed.max) - Math.ceil(zoomed.min) + 1);
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});
