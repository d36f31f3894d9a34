// `overcommit replay <trace>`: streams a trace through a simulated host and reports what happened.
import { loadScenarioFile } from "../sim/scenario.ts";
import { MetricsCsvWriter } from "../sim/metrics-csv.ts";
import { openTrace, type OpenTraceOptions } from "../trace/open.ts";
import { replayTrace, type ReplaySummary } from "../trace/replay.ts";
import type { Host } from "../sim/host.ts";
import { createProgress } from "./progress.ts";
import { formatInt, table } from "./format.ts";
import { readFileSync } from "node:fs";
import { SeriesCollector } from "../report/series.ts";
import { replayDocument, shellLine } from "../report/build.ts";
import { writeAndAnnounce } from "./report.ts";

export interface ReplayCommandOptions {
  /** How to read the trace (format, VM table of a JSON Lines trace, lackey's VM size and rate). */
  open?: OpenTraceOptions;
  scenario?: string;
  hostMib?: number;
  metrics?: string;
  metricsInterval?: number;
  seed?: bigint;
  verify?: boolean;
  json?: boolean;
  progress?: boolean;
  /** Write an HTML report (summary and plots) here. */
  report?: string;
}

export interface ReplayReport extends ReplaySummary {
  readonly trace: string;
  readonly format: string;
  readonly vms: number;
  readonly hostMiB: number;
  readonly peakRssMiB: number;
  readonly verifiedPages?: number;
  readonly stateSeconds: Readonly<Record<string, number>>;
  readonly perVm: readonly ReturnType<Host["vmSummary"]>[];
  readonly metricsFile?: string;
}

/** Checks every page whose content the trace fixed: it must read back as its seed's bytes. */
function verifyContent(host: Host): number {
  let checked = 0;
  for (const name of host.vmNames) {
    const vm = host.vmId(name) ?? 0;
    const pages = host.machine.vmPages(vm);
    for (let gpn = 0; gpn < pages; gpn++) {
      const seed = host.expectedSeed(vm, gpn);
      if (seed === undefined) continue;
      const actual = host.machine.readPage(vm, gpn);
      const expected = host.machine.seedContent(seed);
      if (Buffer.compare(actual, expected) !== 0) {
        throw new Error(`verify: VM "${name}" page ${gpn} does not read back as content seed 0x${seed.toString(16)}`);
      }
      checked++;
    }
  }
  host.machine.audit();
  return checked;
}

export async function runReplayCommand(tracePath: string, options: ReplayCommandOptions): Promise<ReplayReport> {
  const source = await openTrace(tracePath, options.open);
  const scenario = options.scenario ? loadScenarioFile(options.scenario) : undefined;
  const metrics = options.metrics ? new MetricsCsvWriter(options.metrics) : undefined;
  const series = options.report ? new SeriesCollector() : undefined;
  const progress = createProgress(options.progress ?? true);
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\ninterrupted: finishing the current chunk and writing what we have (Ctrl-C again to quit at once)\n");
    controller.abort();
  };
  process.on("SIGINT", onInterrupt);
  let peakRss = process.memoryUsage().rss;
  progress.start(`replay ${source.format}`, source.totalBytes ?? 0, source.format === "generated" ? "events" : "bytes");
  let host: Host | undefined;
  try {
    const result = await replayTrace(source, {
      ...(scenario ? { scenario } : {}),
      ...(options.hostMib !== undefined ? { hostMiB: options.hostMib } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      metricsIntervalSec: options.metricsInterval ?? 10,
      trackContent: options.verify ?? false,
      keepMetrics: false,
      signal: controller.signal,
      onHost: (h) => {
        if (metrics) h.onSample((hostRow, vmRows) => metrics.write(hostRow, vmRows));
        if (series) {
          h.onSample((hostRow, vmRows) => series.addSample(hostRow, vmRows));
          h.on("phase", (e) => {
            if (e.type === "phase") series.addMarker({ timeSec: e.timeSec, text: `${e.vm} ${e.detail}`.slice(0, 60) });
          });
        }
      },
      onProgress: (p) => {
        progress.update(p.bytesRead);
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      },
    });
    host = result.host;
    progress.stop();
    const verified = options.verify ? verifyContent(host) : undefined;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const report: ReplayReport = {
      trace: tracePath,
      format: source.format,
      vms: source.header.vms.length,
      hostMiB: host.machine.frames / 256,
      ...result.summary,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
      ...(verified !== undefined ? { verifiedPages: verified } : {}),
      stateSeconds: { ...host.stateSeconds },
      perVm: host.vmNames.map((_, vm) => (host as Host).vmSummary(vm)),
      ...(options.metrics ? { metricsFile: options.metrics } : {}),
    };
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatReplayReport(report)}\n`);
    if (options.report && series) {
      const command = shellLine([
        "overcommit", "replay", tracePath,
        ...(options.scenario ? ["--scenario", options.scenario] : []),
        ...(options.hostMib !== undefined ? ["--host-mib", String(options.hostMib)] : []),
        ...(options.metricsInterval !== undefined ? ["--metrics-interval", String(options.metricsInterval)] : []),
        ...(options.seed !== undefined ? ["--seed", options.seed.toString()] : []),
      ]);
      const scenarioJson = options.scenario ? readFileSync(options.scenario, "utf8") : undefined;
      await writeAndAnnounce(options.report, replayDocument(report, series, { command, ...(scenarioJson !== undefined ? { scenarioJson } : {}) }), options.json ?? false);
    }
    return report;
  } finally {
    progress.stop();
    process.off("SIGINT", onInterrupt);
    metrics?.close();
    host?.dispose();
  }
}

export function formatReplayReport(r: ReplayReport): string {
  const rows = r.perVm.map((vm) => [
    vm.name,
    `${formatInt(vm.configuredMiB)} MiB`,
    `${formatInt(vm.consumedMiB)} MiB`,
    `${formatInt(vm.targetMiB)} MiB`,
    `${formatInt(vm.sharedMiB)} MiB`,
    `${formatInt(vm.balloonMiB)} MiB`,
    `${formatInt(vm.compressedMiB)} MiB`,
    `${formatInt(vm.swappedMiB)} MiB`,
    `${(100 * vm.activeEstimate).toFixed(0)}%`,
  ]);
  const states = Object.entries(r.stateSeconds).filter(([, s]) => s > 0).map(([name, s]) => `${name} ${formatInt(s)} s`).join(", ");
  return [
    `replayed ${r.trace} (${r.format}): ${formatInt(r.events)} events, ${r.vms} VMs, ${formatInt(r.simSec)} simulated seconds${r.interrupted ? " (interrupted)" : ""}`,
    `wall ${r.wallSeconds.toFixed(2)} s: ${formatInt(r.eventsPerSec)} events/s; peak RSS ${formatInt(r.peakRssMiB)} MiB; host ${formatInt(r.hostMiB)} MiB; memory full ${r.stalls} times mid-second`,
    `host states: ${states}`,
    ...(r.verifiedPages !== undefined ? [`verified: ${formatInt(r.verifiedPages)} pages read back exactly as written`] : []),
    ...(r.metricsFile ? [`metrics: ${r.metricsFile}`] : []),
    "",
    table(["vm", "MEMSZ", "consumed", "SZTGT", "SHRD", "MCTLSZ", "ZIP", "SWCUR", "active"], rows),
  ].join("\n");
}
