// The HTML report's data, in Node: the embedded columns decode to exactly the samples (never
// thinned), the display thinning (M4: first, last, min and max per pixel column) keeps every
// series' envelope, stacking and page layers add up, a metrics CSV reads back as the run that wrote
// it, the scan's pair matrix equals a count by content hash, and the page is self-contained.
// The page itself, in a real browser: test/report-browser.test.ts.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { decodeColumn, decodeColumns, encodeColumns, integerScale } from "../src/report/codec.ts";
import { gather, lowerBound, m4Indices, pageLayerColumns, pageLayers, PAGE_LAYERS, stackColumns, upperIndex } from "../src/report/downsample.ts";
import { HOST_SERIES, SeriesCollector, stateSecondsFromSamples, VM_SERIES } from "../src/report/series.ts";
import { readMetricsCsv, splitCsvLine, MetricsCsvError } from "../src/report/csv.ts";
import { buildReportHtml, packRuns } from "../src/report/html.ts";
import { defaultReportPath, metricsDocument, runDocument, scanDocument, seriesOfRun, shellLine } from "../src/report/build.ts";
import { bundleClient, generatedModule, GENERATED_PATH } from "../src/report/client-bundle.ts";
import { syntheticRun } from "../src/report/synthetic.ts";
import { axisValues, clock, number } from "../src/report/client/format.ts";
import type { Manifest } from "../src/report/manifest.ts";
import { MetricsCsvWriter } from "../src/sim/metrics-csv.ts";
import { runScenario } from "../src/sim/run.ts";
import { scanImages } from "../src/scan/scan-images.ts";
import { IMAGE_NAMES, imageBytes, imagePath } from "./helpers/fixtures.ts";
import { storyScenario } from "./helpers/scenarios.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-report-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sameBits = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function expectExactly(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!sameBits(actual[i] as number, expected[i] as number)) throw new Error(`row ${i}: ${actual[i]} instead of ${expected[i]}`);
  }
}

/** A short, overcommitted run of the seeds' story: balloon, compression and swap all happen. */
const story = runScenario(storyScenario({ scale: 1 / 32, idleTax: 0.75, durationSec: 600 }));

describe("column codec", () => {
  it("chooses whole numbers at the finest exact scale, and doubles otherwise", () => {
    expect(integerScale([0, 1, 2, -7])).toBe(1);
    expect(integerScale([0.5, 1 / 256, 300.25])).toBe(256);
    expect(integerScale([0.001, 12.345, -3.2])).toBe(1000);
    expect(integerScale([0.1 / 256])).toBe(2560);
    expect(integerScale([Math.PI])).toBeUndefined();
    expect(integerScale([1, Number.NaN])).toBeUndefined();
    expect(integerScale([-0])).toBeUndefined();
    expect(integerScale([2 ** 52])).toBeUndefined();
  });

  it("gives back exactly the same doubles, whatever they are", () => {
    const arbitraryColumn = fc.oneof(
      fc.array(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { maxLength: 300 }),
      fc.array(fc.integer({ min: 0, max: 2 ** 30 }).map((pages) => pages / 256), { maxLength: 300 }),
      fc.array(fc.integer({ min: -(10 ** 9), max: 10 ** 9 }).map((v) => v / 1000), { maxLength: 300 }),
      fc.array(fc.double(), { maxLength: 300 }),
      fc.array(fc.oneof(fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY), fc.constant(-0), fc.double({ min: -1e6, max: 1e6 })), { maxLength: 300 }),
    );
    fc.assert(
      fc.property(fc.array(arbitraryColumn, { minLength: 1, maxLength: 5 }), (columns) => {
        const input = columns.map((values, i) => ({ key: `c${i}`, values: Float64Array.from(values) }));
        const { columns: encodings, blob } = encodeColumns(input);
        const decoded = decodeColumns(encodings, blob);
        for (const { key, values } of input) expectExactly(decoded.get(key) ?? new Float64Array(0), values);
      }),
      { numRuns: 200 },
    );
  });

  it("stores a run's page-sized metrics as small integers: far under 8 bytes a value", () => {
    const { series } = seriesOfRun(story, "story");
    const { manifest, blob } = packRuns([series], "run");
    const ints = manifest.columns.filter((c) => c.codec === "int");
    expect(ints.length).toBeGreaterThan(manifest.columns.length / 2);
    const values = manifest.columns.reduce((sum, c) => sum + c.length, 0);
    expect(blob.length).toBeLessThan(values * 4);
  });

  it("says when the data is cut short", () => {
    const { columns, blob } = encodeColumns([{ key: "a", values: Float64Array.from([1, 2, 300]) }, { key: "b", values: Float64Array.from([Math.PI, Math.E]) }]);
    const [a, b] = columns;
    if (!a || !b) throw new Error("two columns expected");
    expect(() => decodeColumn(b, blob.subarray(0, blob.length - 1))).toThrow(/past the end/);
    expect(() => decodeColumn({ ...a, bytes: a.bytes - 1 }, blob)).toThrow(/take \d+ bytes, expected/);
  });
});

describe("M4 thinning for display", () => {
  it("finds the first row at or after a time and the last at or before", () => {
    const x = [1, 2, 2, 3, 5];
    expect(lowerBound(x, 2)).toBe(1);
    expect(upperIndex(x, 2)).toBe(2);
    expect(lowerBound(x, 6)).toBe(5);
    expect(upperIndex(x, 0)).toBe(-1);
  });

  it("keeps every row when there are few, plus one either side of the range", () => {
    const x = Float64Array.from({ length: 100 }, (_, i) => i);
    expect([...m4Indices(x, [x], 10, 20, 50)]).toEqual(Array.from({ length: 13 }, (_, i) => 9 + i));
    expect([...m4Indices(x, [x], 0, 99, 25)]).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(m4Indices(new Float64Array(0), [], 0, 1, 10)).toHaveLength(0);
  });

  it("keeps, in every pixel column, the first and last row and each series' min and max", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 3000 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (n, width, seriesCount, a, b, seed) => {
          let state = seed;
          const rand = (): number => {
            state = (state * 48271) % 2147483647;
            return state / 2147483647;
          };
          const x = new Float64Array(n);
          for (let i = 1; i < n; i++) x[i] = (x[i - 1] as number) + (rand() < 0.1 ? 0 : rand() * 3);
          const series = Array.from({ length: seriesCount }, () => Float64Array.from({ length: n }, () => (rand() < 0.02 ? Number.NaN : rand() * 100)));
          const last = x[n - 1] as number;
          const xMin = Math.min(a, b) * last;
          const xMax = Math.max(a, b) * last + 1e-9;
          const rows = m4Indices(x, series, xMin, xMax, width);
          for (let i = 1; i < rows.length; i++) expect(rows[i] as number).toBeGreaterThan(rows[i - 1] as number);
          expect(rows.length).toBeLessThanOrEqual(width * (2 + 3 * seriesCount) + 2);
          const from = Math.max(0, lowerBound(x, xMin) - 1);
          const to = Math.min(n - 1, upperIndex(x, xMax) + 1);
          if (to < from) return;
          expect(rows[0]).toBe(from);
          expect(rows[rows.length - 1]).toBe(to);
          const kept = new Set(rows);
          // Group the rows in range by pixel column, as drawn; each column's envelope must survive.
          const bucketOf = (xi: number): number => Math.min(width - 1, Math.floor(((xi - xMin) / (xMax - xMin)) * width));
          const columns = new Map<number, number[]>();
          for (let i = from; i <= to; i++) {
            const xi = x[i] as number;
            if (xi < xMin || xi > xMax) continue;
            const bucket = bucketOf(xi);
            const list = columns.get(bucket) ?? [];
            list.push(i);
            columns.set(bucket, list);
          }
          for (const list of columns.values()) {
            expect(kept.has(list[0] as number)).toBe(true);
            expect(kept.has(list[list.length - 1] as number)).toBe(true);
            for (const s of series) {
              const values = list.map((i) => s[i] as number).filter((v) => !Number.isNaN(v));
              const keptValues = list.filter((i) => kept.has(i)).map((i) => s[i] as number).filter((v) => !Number.isNaN(v));
              if (values.length === 0) continue;
              expect(Math.min(...keptValues)).toBe(Math.min(...values));
              expect(Math.max(...keptValues)).toBe(Math.max(...values));
              if (list.some((i) => Number.isNaN(s[i] as number))) expect(list.some((i) => kept.has(i) && Number.isNaN(s[i] as number))).toBe(true);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("draws a million samples with a few thousand points, and a zoomed-in hour with all of its", () => {
    const run = syntheticRun({ samples: 1_000_000, vms: 1 });
    const free = run.host.FREE;
    const last = run.time[run.time.length - 1] as number;
    const rows = m4Indices(run.time, [free, run.host.STATE], 0, last, 1200);
    expect(rows.length).toBeLessThanOrEqual(1200 * 8 + 2);
    expect(rows.length).toBeGreaterThan(1200);
    const hour = m4Indices(run.time, [free], 500_000, 503_600, 1200);
    expect(hour.length).toBe(3603);
  });

  it("turns NaN and infinities into gaps for uPlot", () => {
    expect(gather(Float64Array.from([1, Number.NaN, Number.POSITIVE_INFINITY, 4]), Uint32Array.from([0, 1, 2, 3]))).toEqual([1, null, null, 4]);
  });
});

describe("stacking and page layers", () => {
  it("stacks the shown layers bottom-up; a hidden layer adds nothing and NaN leaves a gap", () => {
    const layers = [Float64Array.from([1, 2, Number.NaN]), Float64Array.from([10, 20, Number.NaN]), Float64Array.from([100, 200, 5])];
    expect(stackColumns(layers, [true, true, true]).map((c) => [...c])).toEqual([[1, 2, Number.NaN], [11, 22, Number.NaN], [111, 222, 5]]);
    expect(stackColumns(layers, [true, false, true]).map((c) => [...c])).toEqual([[1, 2, Number.NaN], [1, 2, Number.NaN], [101, 202, 5]]);
  });

  it("splits a VM's pages into layers that add up to MEMSZ at every sample of a run", () => {
    const { series } = seriesOfRun(story, "story");
    for (const vm of series.vms) {
      const c = vm.columns;
      const layers = pageLayerColumns(c);
      for (let i = 0; i < series.time.length; i++) {
        let sum = 0;
        for (const layer of PAGE_LAYERS) {
          const v = layers[layer][i] as number;
          expect(v).toBeGreaterThanOrEqual(0);
          sum += v;
        }
        expect(sum).toBeCloseTo(c.MEMSZ[i] as number, 9);
      }
    }
  });

  it("takes zero pages out of the shared ones first, then out of the private ones", () => {
    const base = { GRANT: 100, SHRD: 40, ZERO: 10, ZIP: 5, SWCUR: 3, BALLOONED: 2, UNTOUCHED: 50 };
    expect(pageLayers(base)).toEqual({ private: 60, shared: 30, zero: 10, compressed: 5, swapped: 3, ballooned: 2, untouched: 50 });
    // A zero page waiting for a partner is private: ZERO can exceed SHRD.
    expect(pageLayers({ ...base, SHRD: 0, ZERO: 1 })).toEqual({ private: 99, shared: 0, zero: 1, compressed: 5, swapped: 3, ballooned: 2, untouched: 50 });
  });
});

describe("series", () => {
  it("collects every sample of a run, with the state as a code and the phases as markers", () => {
    const { series, last } = seriesOfRun(story, "story");
    expect(series.time.length).toBe(story.metrics.host.length);
    expect(series.vms.map((v) => v.name)).toEqual(story.vms.map((v) => v.name));
    story.metrics.host.forEach((h, i) => {
      expect(series.time[i]).toBe(h.timeSec);
      expect(series.host.FREE[i]).toBe(h.freeMiB);
      expect(["high", "clear", "soft", "hard", "low"][series.host.STATE[i] as number]).toBe(h.state);
    });
    const vm0 = story.metrics.vms.filter((r) => r.vm === series.vms[0]?.name);
    for (const column of VM_SERIES) expectExactly(series.vms[0]?.columns[column] ?? [], vm0.map((r) => r[column]));
    expect(series.markers.length).toBe(story.events.filter((e) => e.type === "phase").length);
    expect(last.host.STATE).toBe(story.metrics.host[story.metrics.host.length - 1]?.state);
    const seconds = stateSecondsFromSamples(series);
    expect(Object.values(seconds).reduce((a, b) => a + b, 0)).toBe(story.durationSec);
  });

  it("pads a VM that appears late with NaN", () => {
    const c = new SeriesCollector();
    c.begin(10);
    c.host("FREE", 5);
    c.begin(20);
    c.vm("late", "GRANT", 3);
    const run = c.finish("x");
    expect([...(run.vms[0]?.columns.GRANT ?? [])]).toEqual([Number.NaN, 3]);
    expect([...run.host.FREE]).toEqual([5, Number.NaN]);
  });
});

describe("metrics CSV", () => {
  it("reads back what --metrics wrote: the same samples, to the CSV's three decimals", async () => {
    const path = join(dir, "story.csv");
    const writer = new MetricsCsvWriter(path);
    const vms = story.metrics.vms;
    const perSample = story.vms.length;
    story.metrics.host.forEach((h, i) => writer.write(h, vms.slice(i * perSample, (i + 1) * perSample)));
    writer.close();
    const { collector, rows, vms: names } = await readMetricsCsv(path);
    expect(rows).toBe(writer.rows);
    expect(names).toEqual(story.vms.map((v) => v.name));
    const fromCsv = collector.finish("csv");
    const { series } = seriesOfRun(story, "story");
    // The CSV keeps three decimals and writes a non-finite value (rho of a VM with no pages) as empty.
    const round = (v: number): number => (!Number.isFinite(v) ? Number.NaN : Number.isInteger(v) ? v : Math.round(v * 1000) / 1000);
    expectExactly(fromCsv.time, series.time);
    for (const name of HOST_SERIES) expectExactly(fromCsv.host[name], series.host[name].map(round));
    series.vms.forEach((vm, v) => {
      for (const name of VM_SERIES) expectExactly(fromCsv.vms[v]?.columns[name] ?? [], vm.columns[name].map(round));
    });
    const html = await buildReportHtml(metricsDocument(path, collector, rows));
    expect(html).toContain("overcommit metrics: story.csv");
  });

  it("splits quoted fields", () => {
    expect(splitCsvLine('1,"a, ""b""",,x')).toEqual(["1", 'a, "b"', "", "x"]);
    expect(() => splitCsvLine('1,"open')).toThrow(MetricsCsvError);
  });

  it("names the file and line of what is wrong", async () => {
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "a,b,c\n1,2,3\n");
    await expect(readMetricsCsv(bad)).rejects.toThrow(/bad\.csv: line 1: expected the header of an overcommit metrics CSV/);
    const short = join(dir, "short.csv");
    writeFileSync(short, "TIME,ENTITY,FREE,STATE\n10,host,5,high\n20,host,5\n");
    await expect(readMetricsCsv(short)).rejects.toThrow(/short\.csv: line 3: expected 4 fields as in the header, found 3/);
    const back = join(dir, "back.csv");
    writeFileSync(back, "TIME,ENTITY,FREE,STATE\n20,host,5,high\n10,host,5,high\n");
    await expect(readMetricsCsv(back)).rejects.toThrow(/line 3: TIME goes back from 20 to 10/);
    await expect(readMetricsCsv(join(dir, "missing.csv"))).rejects.toThrow(/missing\.csv: no such file/);
    writeFileSync(join(dir, "empty.csv"), "");
    await expect(readMetricsCsv(join(dir, "empty.csv"))).rejects.toThrow(/empty file/);
  });
});

describe("the page", () => {
  it("is one self-contained file: inline script, styles and data, a policy forbidding requests", async () => {
    const doc = runDocument({ results: [story], scenario: { name: "story" }, scenarioName: "seeds-story", scale: 1 / 32, command: shellLine(["overcommit", "run", "--scale", "1/32"]) });
    const html = await buildReportHtml(doc);
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">/);
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?https?:/i);
    expect(html).toContain("VMs at the end");
    expect(html).toContain("overcommit run --scale 1/32");
    // The embedded data decodes to every sample.
    const manifestJson = /<script type="application\/json" id="overcommit-manifest">(.*?)<\/script>/s.exec(html)?.[1] ?? "";
    const data = /<script type="text\/plain" id="overcommit-data">(.*?)<\/script>/s.exec(html)?.[1] ?? "";
    const manifest = JSON.parse(manifestJson) as Manifest;
    expect(manifest.compression).toBe("gzip");
    const blob = new Uint8Array(gunzipSync(Buffer.from(data, "base64")));
    expect(blob.length).toBe(manifest.rawBytes);
    const columns = decodeColumns(manifest.columns, blob);
    const run = manifest.runs[0];
    if (!run) throw new Error("one run expected");
    expect(run.samples).toBe(story.metrics.host.length);
    expectExactly(columns.get(run.host.FREE ?? "") ?? [], story.metrics.host.map((h) => h.freeMiB));
    expectExactly(columns.get(run.vms[1]?.columns.rho ?? "") ?? [], story.metrics.vms.filter((r) => r.vm === story.vms[1]?.name).map((r) => r.rho));
    // MINFREE_CLEAR is not in an esx4 run: left out, not sent as NaN.
    expect(run.host.MINFREE_CLEAR).toBeUndefined();
  });

  it("ships the page's script as built from src/report/client/", async () => {
    const fresh = generatedModule(await bundleClient());
    const shipped = readFileSync(GENERATED_PATH, "utf8");
    expect(shipped === fresh, "src/report/client.generated.ts is stale: run npx tsx src/report/client-bundle.ts").toBe(true);
  });

  it("goes to out/ in the project by default (git-ignored)", () => {
    expect(defaultReportPath()).toBe(join(process.cwd(), "out", "overcommit-report.html"));
  });

  it("escapes what it shows", async () => {
    const html = await buildReportHtml({ kind: "metrics", title: "<b>x</b>", facts: [["a&b", "</script><script>alert(1)</script>"]], tables: [], runs: [] });
    expect(html).toContain("&lt;b&gt;x&lt;/b&gt;");
    expect(html).not.toContain("<script>alert(1)");
  });
});

describe("scan pairs", () => {
  it("counts, for each pair of images, the pages on shared frames, as a content hash count does", async () => {
    const report = await scanImages(IMAGE_NAMES.map(imagePath), { seed: 3n, pairs: true });
    const pairs = report.pairShared;
    if (!pairs) throw new Error("pairShared expected");
    // Oracle: after convergence, pages with equal content share one frame (unlimited sharing).
    const contents = IMAGE_NAMES.map((name) => {
      const bytes = imageBytes(name);
      const hashes: string[] = [];
      for (let offset = 0; offset < bytes.length; offset += 4096) hashes.push(createHash("sha256").update(bytes.subarray(offset, offset + 4096)).digest("hex"));
      return hashes;
    });
    const countIn = contents.map((hashes) => {
      const counts = new Map<string, number>();
      for (const h of hashes) counts.set(h, (counts.get(h) ?? 0) + 1);
      return counts;
    });
    contents.forEach((hashes, i) => {
      const row = pairs[i] ?? [];
      contents.forEach((_, j) => {
        const expected =
          i === j
            ? hashes.filter((h) => (countIn[i]?.get(h) ?? 0) >= 2 && countIn.every((c, k) => k === i || !c.has(h))).length
            : hashes.filter((h) => countIn[j]?.has(h)).length;
        expect(row[j], `pairShared[${i}][${j}]`).toBe(expected);
      });
      const image = report.images[i];
      expect((row[i] ?? 0) + (image?.sharedWithOtherImages ?? 0)).toBe(image?.sharedPages);
    });
    const plain = await scanImages([imagePath("proc-dash-0.img")], { seed: 3n });
    expect(plain.pairShared).toBeUndefined();
    const doc = scanDocument(report, "overcommit scan ...");
    expect(doc.scan?.pairShared).toEqual(pairs);
  });
});

describe("formats", () => {
  it("shows simulated time, axis ticks and legend values readably", () => {
    expect(clock(0)).toBe("0:00");
    expect(clock(75)).toBe("1:15");
    expect(clock(3725)).toBe("1:02:05");
    expect(clock(90061)).toBe("1d 01:01");
    expect(clock(2.5)).toBe("0:02.5");
    expect(axisValues([0, 0.0005, 0.001], 0.0005)).toEqual(["0", "0.0005", "0.001"]);
    expect(axisValues([0, 25000, 50000], 25000)).toEqual(["0", "25k", "50k"]);
    expect(axisValues([0, 2500, 5000], 2500)).toEqual(["0", "2,500", "5,000"]);
    expect(number(0.000481, "MiB/s")).toBe("0.000481 MiB/s");
    expect(number(1234.5, "MiB")).toBe("1,235 MiB");
    expect(number(Number.NaN)).toBe("--");
  });
});

describe("overcommit report and --report", () => {
  const run = promisify(execFile);
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { cwd: process.cwd(), maxBuffer: 1 << 26 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  };

  it("run --metrics --report, then report on the CSV: two pages with the same samples", async () => {
    const csv = join(dir, "cli.csv");
    const page = join(dir, "run.html");
    const fromCsv = join(dir, "csv.html");
    const ran = await cli(["run", "--scale", "1/32", "--tax", "0.75", "--duration", "120", "--metrics", csv, "--report", page, "--json", "--no-progress"]);
    expect(ran.code).toBe(0);
    expect(ran.stdout.trim().split("\n")).toHaveLength(1);
    expect(ran.stderr).toContain(`report: ${page}`);
    const reported = await cli(["report", csv, "-o", fromCsv]);
    expect(reported.code).toBe(0);
    expect(reported.stdout).toContain(`report: ${fromCsv}`);
    const samplesOf = (path: string): number => (JSON.parse(/id="overcommit-manifest">(.*?)<\/script>/s.exec(readFileSync(path, "utf8"))?.[1] ?? "{}") as Manifest).runs[0]?.samples ?? -1;
    expect(samplesOf(fromCsv)).toBe(12);
    expect(samplesOf(page)).toBe(12);
    const bad = await cli(["report", join(dir, "nothing.csv"), "-o", join(dir, "x.html")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("nothing.csv: no such file");
  });
});
