// Reads an `--metrics` CSV (src/sim/metrics-csv.ts: a header, then per sample one host row and one
// row per VM) back into report series, streaming it line by line.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { OvercommitError } from "../core/errors.ts";
import { SeriesCollector } from "./series.ts";

/** A metrics CSV that is not what `--metrics` writes (exit code 1 from the CLI, like other input errors). */
export class MetricsCsvError extends OvercommitError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
    this.name = "MetricsCsvError";
  }
}

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside a field). */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new MetricsCsvError("a quoted field has no closing quote");
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      cells.push(value);
      if (i < line.length && line[i] !== ",") throw new MetricsCsvError(`a quoted field is followed by "${line[i] ?? ""}" instead of a comma`);
      i++;
    } else {
      const comma = line.indexOf(",", i);
      const end = comma < 0 ? line.length : comma;
      cells.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return cells;
}

export interface ParsedMetrics {
  readonly collector: SeriesCollector;
  readonly rows: number;
  readonly vms: readonly string[];
}

/** Reads a metrics CSV into a collector; errors name the file, the line and what was expected. */
export async function readMetricsCsv(path: string): Promise<ParsedMetrics> {
  const collector = new SeriesCollector();
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | undefined;
  let timeAt = -1;
  let entityAt = -1;
  let lineNo = 0;
  let rows = 0;
  let sampleTime = Number.NaN;
  const vms: string[] = [];
  const fail = (message: string): never => {
    throw new MetricsCsvError(`${path}: line ${lineNo}: ${message}`);
  };
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim() === "") continue;
      let cells: string[];
      try {
        cells = splitCsvLine(line);
      } catch (error) {
        return fail(error instanceof Error ? error.message : String(error));
      }
      if (!header) {
        header = cells;
        timeAt = header.indexOf("TIME");
        entityAt = header.indexOf("ENTITY");
        if (timeAt < 0 || entityAt < 0 || !header.includes("FREE")) {
          fail(`expected the header of an overcommit metrics CSV (TIME,ENTITY,FREE,STATE,...: written by run or replay --metrics), found "${line.slice(0, 80)}"`);
        }
        continue;
      }
      if (cells.length !== header.length) fail(`expected ${header.length} fields as in the header, found ${cells.length}`);
      const time = Number(cells[timeAt]);
      if (!Number.isFinite(time)) fail(`TIME is not a number: "${cells[timeAt] ?? ""}"`);
      const entity = cells[entityAt] ?? "";
      if (time !== sampleTime) {
        if (time < sampleTime) fail(`TIME goes back from ${sampleTime} to ${time}: rows must be in time order`);
        collector.begin(time);
        sampleTime = time;
      }
      rows++;
      const isHost = entity === "host";
      if (!isHost && !vms.includes(entity)) vms.push(entity);
      for (let c = 0; c < header.length; c++) {
        if (c === timeAt || c === entityAt) continue;
        const text = cells[c] ?? "";
        if (text === "") continue;
        const column = header[c] as string;
        const value = column === "STATE" ? text : Number(text);
        if (typeof value === "number" && Number.isNaN(value)) fail(`${column} is not a number: "${text}"`);
        if (isHost) collector.host(column, value);
        else collector.vm(entity, column, value);
      }
    }
  } catch (error) {
    if (error instanceof MetricsCsvError) throw error;
    const e = error as NodeJS.ErrnoException;
    if (e.code === "ENOENT") throw new MetricsCsvError(`${path}: no such file`);
    if (e.code === "EISDIR") throw new MetricsCsvError(`${path}: is a directory, expected a metrics CSV file`);
    throw error;
  }
  if (!header) throw new MetricsCsvError(`${path}: empty file: expected a metrics CSV with a header (TIME,ENTITY,FREE,...)`);
  return { collector, rows, vms };
}
