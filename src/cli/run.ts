// `overcommit run [scenario.json]`: runs a scenario over simulated time and tells what happened.
// Without a scenario it runs the seeds' story (the default scenario) with the idle memory tax at 0
// and at 0.75, and prints the two side by side: what `npm start` shows.
import { parseScenario, loadScenarioFile, type Scenario } from "../sim/scenario.ts";
import { SEEDS_STORY } from "../sim/seeds-story.ts";
import { scaleScenario } from "../sim/scale.ts";
import { runScenarioAsync, type RunResult } from "../sim/run.ts";
import { maxFramesThatFit } from "../core/machine.ts";
import type { HostEvent } from "../sim/host.ts";
import { createProgress } from "./progress.ts";
import { MetricsCsvWriter } from "../sim/metrics-csv.ts";
import { formatInt, table } from "./format.ts";
import { defaultReportPath, runDocument, shellLine } from "../report/build.ts";
import { writeAndAnnounce } from "./report.ts";

export interface RunCommandOptions {
  scenario?: string;
  taxes?: number[];
  scale?: number;
  seed?: bigint;
  durationSec?: number;
  json?: boolean;
  progress?: boolean;
  events?: boolean;
  /** Write esxtop-style CSV metrics of the last run here. */
  metrics?: string;
  /** Override the host's content mode (fingerprints: frames hold 64-bit content seeds; no size limit to speak of). */
  content?: "bytes" | "fingerprints";
  /** Write an HTML report of the runs here (default for the built-in story: out/ in the project; false: none). */
  report?: string | false;
}

const DEFAULT_STORY_SCALE = 1 / 8;

function clock(sec: number): string {
  const m = Math.floor(sec / 60);
  const s = sec % 60;
  return `${String(m).padStart(2, " ")}:${String(s).padStart(2, "0")}`;
}

/** Shows sizes at the scenario's full scale (the story's own figures). */
function fullScale(mib: number, scale: number): string {
  return `${formatInt(mib / scale)} MiB`;
}

/**
 * The run as a story: workload phases, state changes, balloon and swap activity. State flicker
 * (back and forth within a few seconds at a threshold) is folded into one line.
 */
export function narrate(result: RunResult, maxLines = 60): string[] {
  const lines: string[] = [];
  const scale = result.scale;
  const events = result.events;
  const started = new Map<string, boolean>();
  let lastState: string | undefined;
  let flicker = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as HostEvent;
    switch (e.type) {
      case "phase":
        lines.push(`${clock(e.timeSec)}  ${e.vm} ${e.detail.replace(/(\d+(?:\.\d+)?) MiB/g, (_, n: string) => fullScale(Number(n), scale))}`);
        break;
      case "state": {
        const next = events.slice(i + 1, i + 40).find((x) => x.type === "state");
        if (next && next.type === "state" && next.timeSec - e.timeSec <= 5 && next.to === e.from) {
          flicker++;
          i = events.indexOf(next);
          continue;
        }
        if (flicker > 0) lines.push(`${clock(e.timeSec)}  (free memory hovered at a threshold before this: ${flicker} brief state flips folded)`);
        flicker = 0;
        if (e.to !== lastState) lines.push(`${clock(e.timeSec)}  host state ${e.from} -> ${e.to} (free ${fullScale(e.freeMiB, scale)})`);
        lastState = e.to;
        break;
      }
      case "balloon": {
        const key = `balloon:${e.vm}:${e.change}`;
        if (e.change !== "stopped" && !started.get(key)) {
          started.set(key, true);
          lines.push(`${clock(e.timeSec)}  ${e.vm} balloon starts ${e.change} (target ${fullScale(e.targetMiB, scale)})`);
        }
        break;
      }
      case "reclaim": {
        const kind = e.compressedPages > 0 ? "compress" : "swap";
        const key = `reclaim:${e.vm}:${kind}`;
        if (!started.get(key)) {
          started.set(key, true);
          lines.push(`${clock(e.timeSec)}  host starts to ${kind === "compress" ? "compress" : "swap out"} pages of ${e.vm}`);
        }
        if (e.swappedPages > 0 && !started.get(`reclaim:${e.vm}:swap`)) {
          started.set(`reclaim:${e.vm}:swap`, true);
          lines.push(`${clock(e.timeSec)}  host starts to swap out pages of ${e.vm}`);
        }
        break;
      }
      case "blocked":
        if (e.blocked && !started.get(`blocked:${e.vm}`)) {
          started.set(`blocked:${e.vm}`, true);
          lines.push(`${clock(e.timeSec)}  ${e.vm}'s allocations blocked (low state, above its target)`);
        }
        break;
    }
  }
  if (lines.length > maxLines) {
    const dropped = lines.length - maxLines;
    return [...lines.slice(0, maxLines), `        ... ${dropped} more lines (use --json for every event)`];
  }
  return lines;
}

function summaryRows(results: readonly RunResult[]): string[][] {
  const rows: string[][] = [];
  const first = results[0];
  if (!first) return rows;
  first.vms.forEach((vm, i) => {
    const pick = (f: (r: RunResult) => string): string[] => results.map(f);
    const at = (r: RunResult) => r.vms[i] ?? vm;
    const scale = first.scale;
    rows.push([vm.name, "consumed", ...pick((r) => fullScale(at(r).consumedMiB, scale))]);
    rows.push(["", "target (SZTGT)", ...pick((r) => fullScale(at(r).targetMiB, scale))]);
    rows.push(["", "shared (SHRD)", ...pick((r) => fullScale(at(r).sharedMiB, scale))]);
    rows.push(["", "balloon (MCTLSZ)", ...pick((r) => fullScale(at(r).balloonMiB, scale))]);
    rows.push(["", "swapped (SWCUR)", ...pick((r) => fullScale(at(r).swappedMiB, scale))]);
    rows.push(["", "compressed", ...pick((r) => fullScale(at(r).compressedMiB, scale))]);
    rows.push(["", "active est/true", ...pick((r) => `${(100 * at(r).activeEstimate).toFixed(0)}% / ${(100 * at(r).activeTrue).toFixed(0)}%`)]);
    rows.push(["", "guest page-outs", ...pick((r) => formatInt(at(r).guestPageOuts))]);
    rows.push(["", "double paging", ...pick((r) => formatInt(at(r).doublePaging))]);
    rows.push(["", "host swap-outs", ...pick((r) => formatInt(at(r).swapOuts))]);
    rows.push(["", "rho (shares/page)", ...pick((r) => (at(r).rho * scale).toFixed(3))]);
  });
  const states = ["high", "soft", "hard", "low"] as const;
  rows.push(["host", "seconds per state", ...results.map((r) => states.map((s) => `${s} ${r.stateSeconds[s]}`).join(", "))]);
  rows.push(["", "wall time", ...results.map((r) => `${r.wallSeconds.toFixed(1)} s`)]);
  return rows;
}

export function formatRuns(results: readonly RunResult[], scenario: Scenario, note: string): string {
  const primary = results[results.length - 1];
  if (!primary) return "";
  const lines = [
    `overcommit run: ${scenario.name}${scenario.description ? ` - ${scenario.description}` : ""}`,
    note,
    `seed ${scenario.seed}, ${scenario.durationSec} simulated seconds, profile ${scenario.host.profile}`,
    "",
    `What happened (idle tax ${primary.idleTax}):`,
    ...narrate(primary),
    "",
    `At the end (${clock(primary.durationSec)}):`,
    table(["vm", "", ...results.map((r) => `tax ${r.idleTax}`)], summaryRows(results)),
  ];
  return lines.join("\n");
}

export async function runRunCommand(options: RunCommandOptions): Promise<RunResult[]> {
  let scenario = options.scenario ? loadScenarioFile(options.scenario) : parseScenario(SEEDS_STORY, "built-in seeds' story");
  if (options.seed !== undefined) scenario = { ...scenario, seed: options.seed.toString() };
  if (options.durationSec !== undefined) scenario = { ...scenario, durationSec: options.durationSec };
  if (options.content !== undefined) scenario = { ...scenario, host: { ...scenario.host, content: options.content } };
  const scenarioAsRun = scenario;
  let scale = options.scale ?? (options.scenario ? 1 : DEFAULT_STORY_SCALE);
  const totalPages = (scenario.host.memoryMiB * scale) * 256;
  const guestPages = scenario.vms.reduce((sum, vm) => sum + vm.memoryMiB * scale * 256, 0);
  if (totalPages > maxFramesThatFit(guestPages, scenario.host.content)) {
    const fit = Math.floor(maxFramesThatFit(guestPages, scenario.host.content) / 256);
    throw new RangeError(
      `host memory ${scenario.host.memoryMiB * scale} MiB does not fit the 4 GiB WASM memory in byte mode (at most about ${fit} MiB with these VMs): ` +
        `run it scaled, e.g. --scale ${(fit / scenario.host.memoryMiB).toFixed(3)}, or with --content fingerprints`,
    );
  }
  if (scale !== 1) scenario = scaleScenario(scenario, scale);
  const taxes = options.taxes ?? (options.scenario ? [scenario.host.idleTax] : [0, 0.75]);
  const note =
    scale !== 1
      ? `Simulated at scale ${scale} (host ${formatInt(scenario.host.memoryMiB)} MiB); sizes below are shown at full scale.`
      : `Host ${formatInt(scenario.host.memoryMiB)} MiB.`;
  const progress = createProgress(options.progress ?? true);
  const results: RunResult[] = [];
  try {
    for (const [i, tax] of taxes.entries()) {
      const withTax: Scenario = { ...scenario, host: { ...scenario.host, idleTax: tax } };
      progress.start(`run (tax ${tax})`, scenario.durationSec, "sim s");
      const last = i === taxes.length - 1;
      const writer = last && options.metrics ? new MetricsCsvWriter(options.metrics) : undefined;
      try {
        results.push(
          await runScenarioAsync(withTax, {
            onSecond: (now) => progress.update(now),
            ...(writer ? { onSample: (host, vms) => writer.write(host, vms) } : {}),
          }),
        );
      } finally {
        writer?.close();
      }
    }
  } finally {
    progress.stop();
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ scenario: scenario.name, scale, runs: results.map(({ metrics, events, ...rest }) => ({ ...rest, events: options.events ? events : undefined })) })}\n`);
  } else {
    process.stdout.write(`${formatRuns(results, scenario, note)}\n`);
  }
  const reportPath = options.report ?? (options.scenario ? undefined : defaultReportPath());
  if (reportPath) {
    const command = shellLine([
      "overcommit", "run",
      ...(options.scenario ? [options.scenario] : []),
      ...(options.taxes ? ["--tax", options.taxes.join(",")] : []),
      ...(options.scale !== undefined ? ["--scale", String(options.scale)] : []),
      ...(options.seed !== undefined ? ["--seed", options.seed.toString()] : []),
      ...(options.durationSec !== undefined ? ["--duration", String(options.durationSec)] : []),
    ]);
    const doc = runDocument({
      results, scenario: scenarioAsRun, scenarioName: scenario.name, scale, command, narratives: results.map((r) => narrate(r, 400)),
      ...(scenario.description ? { description: scenario.description } : {}),
    });
    await writeAndAnnounce(reportPath, doc, options.json ?? false);
  }
  return results;
}
