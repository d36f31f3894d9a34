// `overcommit report <metrics.csv> -o <out.html>`: a self-contained HTML report (summary and
// plots) from the esxtop-style CSV that `run --metrics` or `replay --metrics` wrote; and the line
// each command prints when it has written a report.
import type { Command } from "commander";
import { readMetricsCsv } from "../report/csv.ts";
import { metricsDocument, writeReport } from "../report/build.ts";
import type { ReportDocument } from "../report/html.ts";

function size(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/**
 * Writes the report and says where, on stdout (or stderr when stdout carries --json), with the path
 * a browser opens.
 */
export async function writeAndAnnounce(path: string, doc: ReportDocument, toStderr = false): Promise<string> {
  const written = await writeReport(path, doc);
  const line = `report: ${written.path} (${size(written.bytes)}; open it in a browser)\n`;
  if (toStderr) process.stderr.write(line);
  else process.stdout.write(line);
  return written.path;
}

export async function runReportCommand(csvPath: string, options: { output: string }): Promise<string> {
  const { collector, rows } = await readMetricsCsv(csvPath);
  return writeAndAnnounce(options.output, metricsDocument(csvPath, collector, rows));
}

export function registerReportCommand(program: Command): void {
  program
    .command("report")
    .description("Write a self-contained HTML report (summary table and plots over simulated time) from a metrics CSV written by run or replay --metrics")
    .argument("<metrics.csv>", "metrics CSV file")
    .requiredOption("-o, --output <file>", "the HTML file to write")
    .action(async (csv: string, options: { output: string }) => {
      await runReportCommand(csv, options);
    });
}
