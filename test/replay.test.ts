// Streaming replay of traces through the host: deterministic, exact content under pressure,
// esxtop-style metrics, clear errors for bad events, clean stop on Ctrl-C.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { BinaryTraceWriter, openBinaryTrace } from "../src/trace/binary.ts";
import { generateTrace, type GenerateOptions } from "../src/trace/generate.ts";
import { replayTrace } from "../src/trace/replay.ts";
import { TraceFormatError, TraceOp } from "../src/trace/events.ts";
import { CSV_HEADER, VM_COLUMNS } from "../src/sim/metrics-csv.ts";
import { contentOfSeed } from "./oracles/content-seed.ts";

const dir = mkdtempSync(join(tmpdir(), "overcommit-replay-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = promisify(execFile);

async function writeGenerated(name: string, options: Partial<GenerateOptions> = {}): Promise<string> {
  const path = join(dir, name);
  const source = generateTrace({ vms: 3, vmMiB: 8, events: 60_000, durationSec: 120, seed: 5n, workload: "boot", writePct: 20, ...options });
  const writer = new BinaryTraceWriter(path, source.header);
  for await (const chunk of source.chunks()) writer.writeChunk(chunk);
  writer.close();
  return path;
}

describe("replay", () => {
  it("gives the same counters and metrics for the same trace and seed", async () => {
    const path = await writeGenerated("same.bin");
    const once = async () => {
      const { host, summary } = await replayTrace(await openBinaryTrace(path), { hostMiB: 16, seed: 3n });
      const result = { counters: host.machine.hostCounters(), metrics: host.metrics, simSec: summary.simSec, events: summary.events, states: { ...host.stateSeconds } };
      host.dispose();
      return result;
    };
    const a = await once();
    const b = await once();
    expect(b).toEqual(a);
    expect(a.events).toBe(60_000);
    expect(a.states.hard + a.states.low + a.states.soft).toBeGreaterThan(0); // 24 MiB of VMs on 16 MiB: pressure
  });

  it("loses no content under balloon, compression and swap: every page reads back as the trace wrote it", async () => {
    const path = await writeGenerated("pressure.bin", { writePct: 40 });
    const { host } = await replayTrace(await openBinaryTrace(path), { hostMiB: 12, trackContent: true });
    try {
      const counters = [0, 1, 2].map((vm) => host.machine.vmCounters(vm));
      expect(counters.some((c) => c.swapOuts > 0)).toBe(true);
      expect(counters.some((c) => c.compressions > 0)).toBe(true);
      let checked = 0;
      for (let vm = 0; vm < 3; vm++) {
        for (let gpn = 0; gpn < host.machine.vmPages(vm); gpn++) {
          const seed = host.expectedSeed(vm, gpn);
          if (seed === undefined) continue;
          expect(Buffer.compare(host.machine.readPage(vm, gpn), contentOfSeed(seed))).toBe(0);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(1000);
      host.machine.audit();
    } finally {
      host.dispose();
    }
  });

  it("rejects a GPN beyond its VM's size with the byte offset, the field and the range", async () => {
    const path = join(dir, "bad-gpn.bin");
    const writer = new BinaryTraceWriter(path, { vms: [{ name: "small", pages: 16 }] });
    writer.writeEvent(0, 0, TraceOp.touch, 3, 1);
    writer.writeEvent(10, 0, TraceOp.touch, 16, 1);
    writer.close();
    const error = await replayTrace(await openBinaryTrace(path)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TraceFormatError);
    expect(String(error)).toMatch(/bad-gpn\.bin: byte offset \d+ \(record 1\): gpn: pages 16\.\.16 are outside VM "small" \(GPNs 0\.\.15\)/);
  });

  it("says a binary trace is truncated", async () => {
    const path = join(dir, "truncated.bin");
    const writer = new BinaryTraceWriter(path, { vms: [{ name: "a", pages: 16 }] });
    writer.writeEvent(0, 0, TraceOp.touch, 3, 1);
    writer.writeEvent(0, 0, TraceOp.touch, 4, 1);
    writer.close();
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    await expect(replayTrace(await openBinaryTrace(path))).rejects.toThrow(/truncated: the file ends 19 bytes into record 1/);
  });

  it("writes esxtop-style metrics: a header with the memory-panel columns, one row per VM per sample plus a host row", async () => {
    const path = await writeGenerated("metrics.bin");
    const csv = join(dir, "metrics.csv");
    const { stdout } = await run(process.execPath, ["--import", "tsx", "src/cli/main.ts", "replay", path, "--host-mib", "16", "--metrics", csv, "--metrics-interval", "20", "--json", "--no-progress"]);
    const report = JSON.parse(stdout) as { events: number; simSec: number; vms: number };
    expect(report.events).toBe(60_000);
    const lines = readFileSync(csv, "utf8").trim().split("\n");
    const header = (lines[0] ?? "").split(",");
    expect(header).toEqual(CSV_HEADER);
    for (const column of ["MEMSZ", "GRANT", "SZTGT", "TCHD", "MCTLSZ", "MCTLTGT", "SWCUR", "SWTGT", "SWR/s", "SWW/s", "CACHEUSD", "ZIP/s", "UNZIP/s", "SHRD", "ZERO", "SHRDSVD", "COWH"]) {
      expect(VM_COLUMNS as readonly string[]).toContain(column);
    }
    const samples = Math.ceil(report.simSec / 20);
    expect(lines.length - 1).toBe(samples * (report.vms + 1));
    expect(lines.filter((l) => l.split(",")[1] === "host").length).toBe(samples);
  });

  it("stops cleanly on Ctrl-C and still writes what it has", async () => {
    const path = await writeGenerated("long.bin", { events: 3_000_000, durationSec: 3000, vms: 2, vmMiB: 16 });
    const csv = join(dir, "interrupted.csv");
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "replay", path, "--metrics", csv, "--json", "--no-progress"], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    // Interrupt once the replay is under way (the metrics file exists once the host does).
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(csv)) {
          clearInterval(poll);
          setTimeout(() => {
            child.kill("SIGINT");
            resolve();
          }, 300);
        }
      }, 50);
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toContain("interrupted");
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { interrupted: boolean; events: number };
    expect(report.interrupted).toBe(true);
    expect(report.events).toBeLessThan(3_000_000);
    expect(readFileSync(csv, "utf8").split("\n")[0]).toBe(CSV_HEADER.join(","));
  }, 120_000);
});
