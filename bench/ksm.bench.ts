// Sharing scan vs Linux KSM on the same memory images: time to converge, steady scan rate, and
// savings that must be equal. See docs/ksm.md.
//
//   npx tsx bench/ksm.bench.ts        (as root, with a writable /sys/kernel/mm/ksm and a C compiler)
//
// Environment: KSM_BENCH_ROUNDS (KSM runs per setting, default 3), KSM_BENCH_PAGES_TO_SCAN (default
// 10000), KSM_BENCH_SWEEP=1 (first time pages_to_scan 100/1000/10000/100000 and use the fastest),
// KSM_BENCH_STEADY_SECONDS (each steady window, default 1), OVERCOMMIT_IMAGES_DIR (the raw .img
// files), KSM_BENCH_FAIL_AT=converge|steady (throws there on purpose, to test the restore path).
//
// KSM side: bench/ksm/ksm-load.c is compiled with `cc -O2` into a temporary directory, loads the
// images into one MADV_MERGEABLE anonymous mapping, says "ready" and waits on stdin. The bench then
// drives ksmd through sysfs (run=2 to start clean, sleep_millisecs=0, pages_to_scan, run=1) and
// polls full_scans, pages_shared and pages_sharing, and ksmd's CPU time (/proc/<ksmd>/schedstat in
// ns, /proc/<ksmd>/stat utime+stime in ticks), until two full scans pass with no change.
// Every KSM setting changed is read first and restored afterwards, also on failure and on
// SIGINT/SIGTERM/SIGHUP; a state file in the temp directory restores them on the next run if this
// process was killed outright.
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { Machine } from "../src/core/machine.ts";
import { scanImages, type ImageScanOptions, type ImageScanReport } from "../src/scan/scan-images.ts";
import { imageInfo, loadImage } from "../src/trace/image.ts";
import { median, printRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

const KSM = "/sys/kernel/mm/ksm";
const STATE_FILE = join(tmpdir(), "overcommit-ksm-bench.state.json");
const IMAGE_NAMES = ["proc-dash-0.img", "proc-dash-1.img", "proc-mawk-0.img", "proc-tclsh-0.img", "proc-tclsh-1.img"] as const;
const SETS: readonly { label: string; names: readonly (typeof IMAGE_NAMES)[number][] }[] = [
  { label: "all five sample images", names: IMAGE_NAMES },
  { label: "proc-tclsh-0 + proc-tclsh-1", names: ["proc-tclsh-0.img", "proc-tclsh-1.img"] },
];
const KSM_DEFAULT_MAX_PAGE_SHARING = 256;
const OUR_ROUNDS = 5;
/** KSM's settings this bench may change, in the order they are restored (run last). */
const SETTINGS = ["advisor_mode", "pages_to_scan", "sleep_millisecs", "max_page_sharing", "use_zero_pages", "smart_scan", "run"] as const;
type Setting = (typeof SETTINGS)[number];

const projectRoot = fileURLToPath(new URL("..", import.meta.url));

// ---- small synchronous helpers ------------------------------------------------------------------

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function log(line: string): void {
  process.stderr.write(`  ksm: ${line}\n`);
}

function readKsm(name: string): string {
  return readFileSync(`${KSM}/${name}`, "utf8").trim();
}

function writeKsm(name: string, value: string): void {
  writeFileSync(`${KSM}/${name}`, value);
}

function readKsmNumber(name: string): number {
  return Number(readKsm(name));
}

/** "[none] scan-time" -> "none". */
function bracketed(value: string): string {
  return /\[([^\]]+)\]/.exec(value)?.[1] ?? value;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- KSM settings: save before changing, restore always ----------------------------------------

interface StateFile {
  pid: number;
  /** The temporary directory of that run (helper binary, decompressed images), removed on recovery. */
  scratch: string;
  saved: Partial<Record<Setting, string>>;
}

/**
 * The settings this process changed, with their values from before. Persisted to STATE_FILE at
 * every change, so that a bench killed with SIGKILL is undone by the next run.
 */
class KsmSettings {
  private readonly saved: Partial<Record<Setting, string>> = {};
  private restored = false;

  constructor(private readonly scratch: string) {}

  /** Takes the state file as a lock (exclusive create). False if another bench holds it. */
  lock(): boolean {
    try {
      writeFileSync(STATE_FILE, this.stateJson(), { flag: "wx" });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  }

  private stateJson(): string {
    return JSON.stringify({ pid: process.pid, scratch: this.scratch, saved: this.saved } satisfies StateFile);
  }

  /** Reads the current value (as it must be written back). */
  static current(name: Setting): string {
    const value = readKsm(name);
    return name === "advisor_mode" ? bracketed(value) : value;
  }

  original(name: Setting): string {
    return this.saved[name] ?? KsmSettings.current(name);
  }

  set(name: Setting, value: string | number): void {
    if (this.saved[name] === undefined) {
      this.saved[name] = KsmSettings.current(name);
      writeFileSync(STATE_FILE, this.stateJson());
    }
    writeKsm(name, String(value));
  }

  /**
   * Unmerges (run=2) and writes every saved value back, run last, then removes the state file.
   * Synchronous; safe to call twice.
   */
  restore(): string[] {
    if (this.restored) return [];
    this.restored = true;
    return restoreSaved(this.saved);
  }
}

/** Restores saved settings; returns the problems (empty when all are back). */
function restoreSaved(saved: Partial<Record<Setting, string>>): string[] {
  const problems: string[] = [];
  if (Object.keys(saved).length > 0) {
    // Unmerge first: max_page_sharing (and merge_across_nodes) can only change with no KSM pages,
    // and pages merged under our settings must not outlive them.
    try {
      writeKsm("run", "2");
    } catch (error) {
      problems.push(`run=2 (unmerge): ${errorText(error)}`);
    }
  }
  for (const name of SETTINGS) {
    const value = saved[name];
    if (value === undefined) continue;
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        if (KsmSettings.current(name) !== value) writeKsm(name, value);
        lastError = undefined;
        break;
      } catch (error) {
        lastError = error; // EBUSY while stable nodes are still being freed
        sleepMs(50);
      }
    }
    if (lastError !== undefined) problems.push(`${name}=${value}: ${errorText(lastError)}`);
    else if (KsmSettings.current(name) !== value) problems.push(`${name}: wrote ${value}, reads ${KsmSettings.current(name)}`);
  }
  if (problems.length === 0) {
    try {
      unlinkSync(STATE_FILE);
    } catch {
      // already gone
    }
  }
  return problems;
}

/** A state file from a run that was killed: put its saved settings back. Returns false if another bench runs. */
function recoverStaleState(): boolean {
  if (!existsSync(STATE_FILE)) return true;
  let state: StateFile;
  try {
    state = JSON.parse(readFileSync(STATE_FILE, "utf8")) as StateFile;
  } catch {
    unlinkSync(STATE_FILE);
    return true;
  }
  if (state.pid !== process.pid && pidAlive(state.pid)) return false;
  const problems = restoreSaved(state.saved);
  if (typeof state.scratch === "string" && state.scratch.startsWith(join(tmpdir(), "overcommit-ksm-"))) rmSync(state.scratch, { recursive: true, force: true });
  log(`a previous KSM bench (pid ${state.pid}) died without restoring KSM: restored ${JSON.stringify(state.saved)}${problems.length ? `; problems: ${problems.join("; ")}` : ""}`);
  return true;
}

// ---- the machine: can we run KSM here? ---------------------------------------------------------

function findKsmd(): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "ksmd") return Number(entry);
    } catch {
      // the process went away
    }
  }
  return undefined;
}

/** Other processes with VM_MERGEABLE memory (their pages would be merged and counted too). */
function otherKsmUsers(exclude: readonly number[]): string[] {
  const users: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || exclude.includes(Number(entry))) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/ksm_stat`, "utf8");
      if (/ksm_mergeable: yes|ksm_merge_any: yes/.test(stat) || /ksm_rmap_items [1-9]/.test(stat)) {
        users.push(`${entry} (${readFileSync(`/proc/${entry}/comm`, "utf8").trim()})`);
      }
    } catch {
      // no ksm_stat (older kernel) or the process went away
    }
  }
  return users;
}

function whyNot(): string | undefined {
  if (process.platform !== "linux") return `not Linux (${process.platform})`;
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not root (KSM's sysfs knobs need root)";
  if (!existsSync(`${KSM}/run`)) return `${KSM} is missing (kernel without CONFIG_KSM, or sysfs not mounted)`;
  try {
    accessSync(`${KSM}/run`, constants.W_OK);
  } catch (error) {
    return `${KSM} is not writable (${(error as NodeJS.ErrnoException).code ?? errorText(error)}; sysfs read-only?)`;
  }
  const cc = spawnSync("cc", ["--version"], { encoding: "utf8" });
  if (cc.error || cc.status !== 0) return "no C compiler (cc) to build the KSM load helper";
  return undefined;
}

// ---- images -------------------------------------------------------------------------------------

/** Directory of the raw images: OVERCOMMIT_IMAGES_DIR, ../shared/images beside the project, /work/shared/images. */
async function rawImagesDir(scratch: string): Promise<string> {
  const candidates = [process.env.OVERCOMMIT_IMAGES_DIR, join(projectRoot, "..", "shared", "images"), "/work/shared/images"];
  for (const dir of candidates) {
    if (dir && IMAGE_NAMES.every((name) => existsSync(join(dir, name)))) return dir;
  }
  // Fall back to the gzip fixtures, decompressed as streams into the scratch directory.
  const dir = join(scratch, "images");
  const fixtures = join(projectRoot, "test", "fixtures", "images");
  mkdirSync(dir, { recursive: true });
  for (const name of IMAGE_NAMES) {
    await pipeline(createReadStream(join(fixtures, `${name}.gz`)), createGunzip(), createWriteStream(join(dir, name)));
  }
  return dir;
}

// ---- the load helper ----------------------------------------------------------------------------

type Helper = ChildProcessByStdio<Writable, Readable, null>;

function compileHelper(scratch: string): string {
  const source = join(projectRoot, "bench", "ksm", "ksm-load.c");
  const binary = join(scratch, "ksm-load");
  const cc = spawnSync("cc", ["-O2", "-Wall", "-o", binary, source], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`cc -O2 ${source} failed:\n${cc.stderr}`);
  return binary;
}

/** Starts the helper and waits for its "ready <pages> ..." line. */
async function startHelper(binary: string, paths: readonly string[]): Promise<{ helper: Helper; pages: number; lines: () => Promise<string> }> {
  const helper = spawn(binary, [...paths], { stdio: ["pipe", "pipe", "inherit"] });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = "";
  helper.stdout.setEncoding("utf8");
  helper.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else queue.push(line);
    }
  });
  const exited = new Promise<string>((resolve) => helper.on("exit", (code, signal) => resolve(`the KSM load helper exited (${signal ?? `status ${code}`})`)));
  const nextLine = (): Promise<string> => {
    const ready = queue.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return Promise.race([
      new Promise<string>((resolve) => waiting.push(resolve)),
      exited.then((why) => Promise.reject(new Error(why))),
      new Promise<string>((_, reject) => setTimeout(() => reject(new Error("the KSM load helper did not answer in 60 s")), 60_000).unref()),
    ]);
  };
  const first = await nextLine();
  const match = /^ready (\d+) /.exec(first);
  if (!match) throw new Error(`the KSM load helper said "${first}", expected "ready <pages> ..."`);
  return { helper, pages: Number(match[1]), lines: nextLine };
}

async function stopHelper(helper: Helper): Promise<void> {
  if (helper.exitCode !== null || helper.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => helper.once("exit", () => resolve()));
  helper.stdin.end("quit\n");
  const timer = setTimeout(() => helper.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// ---- reading ksmd -------------------------------------------------------------------------------

/** Counters and ksmd CPU time read through open descriptors (pread at 0 re-reads sysfs and procfs). */
class Probe {
  private readonly fds: Record<"full" | "shared" | "sharing" | "schedstat" | "stat", number>;
  private readonly buffer = Buffer.alloc(1024);
  private readonly ticksPerSecond: number;

  constructor(ksmd: number) {
    this.fds = {
      full: openSync(`${KSM}/full_scans`, "r"),
      shared: openSync(`${KSM}/pages_shared`, "r"),
      sharing: openSync(`${KSM}/pages_sharing`, "r"),
      schedstat: openSync(`/proc/${ksmd}/schedstat`, "r"),
      stat: openSync(`/proc/${ksmd}/stat`, "r"),
    };
    const clk = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    this.ticksPerSecond = Number(clk.stdout) > 0 ? Number(clk.stdout) : 100;
  }

  private text(fd: number): string {
    const bytes = readSync(fd, this.buffer, 0, this.buffer.length, 0);
    return this.buffer.toString("latin1", 0, bytes);
  }

  counters(): { full: number; shared: number; sharing: number } {
    return { full: Number(this.text(this.fds.full)), shared: Number(this.text(this.fds.shared)), sharing: Number(this.text(this.fds.sharing)) };
  }

  /** ksmd's CPU time in seconds: schedstat's sum_exec_runtime (ns). */
  cpuSeconds(): number {
    return Number(this.text(this.fds.schedstat).split(" ")[0]) / 1e9;
  }

  /** ksmd's utime + stime from /proc/<pid>/stat, in seconds (tick resolution). */
  statCpuSeconds(): number {
    const text = this.text(this.fds.stat);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / this.ticksPerSecond;
  }

  close(): void {
    for (const fd of Object.values(this.fds)) closeSync(fd);
  }
}

interface Sample {
  t: number;
  full: number;
  shared: number;
  sharing: number;
  cpu: number;
  statCpu: number;
}

interface KsmRun {
  maxPageSharing: number;
  pagesToScan: number;
  pagesShared: number;
  pagesSharing: number;
  extra: string;
  /** run=1 until the final counters were first seen. */
  mergedSeconds: number;
  /** run=1 until the end of the first full scan after the last change (ours' rule: a pass that merges nothing). */
  convergeSeconds: number;
  convergeCpuSeconds: number;
  convergeStatCpuSeconds: number;
  convergeScans: number;
  /** Per full scan up to convergence: wall and ksmd CPU ms from the scan's start (as first seen) to its end. */
  perScan: { scan: string; wallMs: number; cpuMs: number }[];
  steady?: { pagesPerSec: number; cpuPagesPerSec: number; scanMs: number; scans: number };
  steadyNoSmart?: { pagesPerSec: number; cpuPagesPerSec: number; scanMs: number; scans: number };
}

function failAt(point: string): void {
  if (process.env.KSM_BENCH_FAIL_AT === point) throw new Error(`KSM_BENCH_FAIL_AT=${point}: failing on purpose to test the restore path`);
}

/** Lets signals and the helper's output be handled between stretches of synchronous polling. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Polls until `done(sample)`; busy-waits in 0.2 ms steps, yielding to the event loop every 20 ms. */
async function pollUntil(probe: Probe, timeoutSeconds: number, what: string, done: (sample: Sample) => boolean): Promise<Sample> {
  const started = performance.now();
  let lastYield = started;
  for (;;) {
    const t = performance.now();
    const sample: Sample = { t, ...probe.counters(), cpu: probe.cpuSeconds(), statCpu: probe.statCpuSeconds() };
    if (done(sample)) return sample;
    if (t - started > timeoutSeconds * 1000) throw new Error(`KSM: ${what} did not happen in ${timeoutSeconds} s`);
    if (t - lastYield > 20) {
      await yieldToEventLoop();
      lastYield = performance.now();
    } else {
      sleepMs(0.2);
    }
  }
}

/** A steady window: from one full-scan boundary to another, at least `seconds` and `minScans` scans. */
async function steadyWindow(probe: Probe, pages: number, seconds: number, minScans: number): Promise<{ pagesPerSec: number; cpuPagesPerSec: number; scanMs: number; scans: number }> {
  let from = probe.counters().full;
  const start = await pollUntil(probe, 120, "a full scan boundary", (s) => s.full > from);
  from = start.full;
  const end = await pollUntil(probe, 300, "the steady window", (s) => s.full - from >= minScans && s.t - start.t >= seconds * 1000);
  const scans = end.full - start.full;
  const wall = (end.t - start.t) / 1000;
  const cpu = end.cpu - start.cpu;
  return { pagesPerSec: (pages * scans) / wall, cpuPagesPerSec: cpu > 0 ? (pages * scans) / cpu : 0, scanMs: (wall / scans) * 1000, scans };
}

/**
 * One KSM run from scratch: unmerge (run=2, which also resets full_scans), set max_page_sharing,
 * run=1, poll until two full scans pass with no change; optionally measure steady windows.
 */
async function ksmRun(
  settings: KsmSettings,
  probe: Probe,
  pages: number,
  maxPageSharing: number,
  pagesToScan: number,
  steady: boolean,
  helperPid: number,
): Promise<KsmRun> {
  settings.set("run", 2);
  settings.set("max_page_sharing", maxPageSharing);
  settings.set("pages_to_scan", pagesToScan);
  settings.set("sleep_millisecs", 0);
  const before = probe.counters();
  if (before.shared !== 0 || before.sharing !== 0 || before.full !== 0) {
    throw new Error(`KSM did not start clean after run=2: full_scans ${before.full}, pages_shared ${before.shared}, pages_sharing ${before.sharing}`);
  }
  const t0 = performance.now();
  const cpu0 = probe.cpuSeconds();
  const statCpu0 = probe.statCpuSeconds();
  settings.set("run", 1);

  let values = { shared: 0, sharing: 0 };
  let change: Sample | undefined; // the sample where the final values were first seen
  let previous: Sample = { t: t0, ...before, cpu: cpu0, statCpu: statCpu0 };
  let converged: Sample | undefined;
  // The last change happened during scan number `changeScan` (1-based) at the earliest: the
  // previous sample had seen `previous.full` scans complete with the old values.
  let changeScan = 2; // KSM merges in its second scan; with nothing to merge, scan 2 is the one
  const boundaries: Sample[] = [previous]; // the first sample that saw each full_scans value
  const last = await pollUntil(probe, 120, "convergence (two full scans with no change)", (s) => {
    if (s.full > (boundaries[boundaries.length - 1]?.full ?? 0)) boundaries.push(s);
    if (s.shared !== values.shared || s.sharing !== values.sharing) {
      values = { shared: s.shared, sharing: s.sharing };
      change = s;
      changeScan = previous.full + 1;
      converged = undefined;
    }
    previous = s;
    if (!converged && s.full >= changeScan + 1) converged = s;
    return s.full >= Math.max(4, (change?.full ?? 1) + 3);
  });
  failAt("converge");
  const end = converged ?? last;
  const extra = ["pages_unshared", "pages_volatile", "stable_node_chains", "stable_node_dups", "ksm_zero_pages"]
    .filter((name) => existsSync(`${KSM}/${name}`))
    .map((name) => `${name} ${readKsm(name)}`)
    .join(", ");
  // Only our helper's pages may be in these counters.
  const own = /ksm_merging_pages (\d+)/.exec(readFileSync(`/proc/${helperPid}/ksm_stat`, "utf8"))?.[1];
  if (own !== undefined && Number(own) !== last.shared + last.sharing) {
    throw new Error(`KSM counters include other processes' pages: pages_shared ${last.shared} + pages_sharing ${last.sharing}, the helper's ksm_merging_pages ${own}`);
  }
  const run: KsmRun = {
    maxPageSharing,
    pagesToScan,
    pagesShared: last.shared,
    pagesSharing: last.sharing,
    extra,
    mergedSeconds: ((change?.t ?? t0) - t0) / 1000,
    convergeSeconds: (end.t - t0) / 1000,
    convergeCpuSeconds: end.cpu - cpu0,
    convergeStatCpuSeconds: end.statCpu - statCpu0,
    convergeScans: end.full,
    perScan: boundaries.slice(1).flatMap((b, i) => {
      const from = boundaries[i];
      if (!from || b.full > end.full) return [];
      const scan = b.full - from.full === 1 ? `${b.full}` : `${from.full + 1}-${b.full}`;
      return [{ scan, wallMs: b.t - from.t, cpuMs: (b.cpu - from.cpu) * 1000 }];
    }),
  };
  if (steady) {
    const seconds = Number(process.env.KSM_BENCH_STEADY_SECONDS ?? 1);
    // smart_scan (if on) skips never-merged pages for more and more scans: let it settle first
    // (a page's skip pattern repeats every 9 scans from about its 22nd scan).
    await pollUntil(probe, 120, "30 full scans", (s) => s.full >= 30);
    run.steady = await steadyWindow(probe, pages, seconds, 18);
    if (KsmSettings.current("smart_scan") !== "0") {
      settings.set("smart_scan", 0);
      failAt("steady");
      await steadyWindow(probe, pages, 0, 2); // every page checksummed again from here
      run.steadyNoSmart = await steadyWindow(probe, pages, seconds, 10);
      settings.set("smart_scan", settings.original("smart_scan"));
    }
  }
  settings.set("run", 2);
  return run;
}

// ---- ours ---------------------------------------------------------------------------------------

/** Our steady rescan of converged, unchanged memory, as in bench/scan.bench.ts. */
async function ourSteadyPagesPerSec(paths: readonly string[]): Promise<number> {
  const infos = await Promise.all(paths.map((path) => imageInfo(path)));
  const pages = infos.reduce((sum, info) => sum + info.pages, 0);
  const machine = Machine.create({ frames: pages, maxVms: infos.length });
  try {
    for (const info of infos) await loadImage(machine, machine.addVm({ name: info.path, pages: info.pages }), info);
    machine.scanToConvergence({ seed: 1n });
    let passes = 0;
    const started = performance.now();
    while (performance.now() - started < 300) {
      for (let from = 0; from < pages; from += 32768) machine.scanHostOrder(99n, from, Math.min(32768, pages - from));
      passes++;
    }
    return (pages * passes) / ((performance.now() - started) / 1000);
  } finally {
    machine.dispose();
  }
}

async function ourScans(paths: readonly string[], options: ImageScanOptions): Promise<{ report: ImageScanReport; scanSeconds: number; firstPassSeconds: number }> {
  await scanImages(paths, options); // warm-up: compile and tier-up the core
  const reports: ImageScanReport[] = [];
  for (let round = 0; round < OUR_ROUNDS; round++) reports.push(await scanImages(paths, { ...options, seed: BigInt(round + 1) }));
  const report = reports[0];
  if (!report) throw new Error("no scan");
  for (const other of reports) {
    if (other.savedPages !== report.savedPages || other.sharedFrames !== report.sharedFrames) {
      throw new Error(`our scan's savings depend on the seed: ${report.savedPages}/${report.sharedFrames} vs ${other.savedPages}/${other.sharedFrames}`);
    }
  }
  return {
    report,
    scanSeconds: median(reports.map((r) => r.scanSeconds)),
    firstPassSeconds: median(reports.map((r) => (r.firstPassPagesPerSec > 0 ? r.pages / r.firstPassPagesPerSec : 0))),
  };
}

// ---- the bench ----------------------------------------------------------------------------------

function fmt(value: number): string {
  return value.toLocaleString("en-US");
}

async function chooseSweep(settings: KsmSettings, probe: Probe, pages: number, rounds: number, helperPid: number): Promise<number> {
  const candidates = [100, 1000, 10000, 100000];
  let best = { pagesToScan: 10000, seconds: Infinity };
  for (const pagesToScan of candidates) {
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const run = await ksmRun(settings, probe, pages, Math.max(pages, KSM_DEFAULT_MAX_PAGE_SHARING), pagesToScan, false, helperPid);
      walls.push(run.convergeSeconds);
      cpus.push(run.convergeCpuSeconds);
    }
    log(`sweep: pages_to_scan ${pagesToScan}: converge wall ${walls.map((w) => (w * 1000).toFixed(1)).join(", ")} ms (median ${(median(walls) * 1000).toFixed(1)}), ksmd CPU median ${(median(cpus) * 1000).toFixed(1)} ms`);
    if (median(walls) < best.seconds) best = { pagesToScan, seconds: median(walls) };
  }
  log(`sweep: fastest pages_to_scan ${best.pagesToScan}`);
  return best.pagesToScan;
}

export async function run(): Promise<BenchRow[]> {
  const reason = whyNot();
  if (reason) {
    console.log(`ksm bench skipped: ${reason}`);
    return [];
  }
  if (!recoverStaleState()) {
    console.log(`ksm bench skipped: another KSM bench is running (see ${STATE_FILE})`);
    return [];
  }
  const ksmd = findKsmd();
  if (ksmd === undefined) {
    console.log("ksm bench skipped: no ksmd kernel thread found in /proc/*/comm");
    return [];
  }
  const users = otherKsmUsers([process.pid]);
  const inUse = readKsmNumber("pages_shared") + readKsmNumber("pages_sharing") + readKsmNumber("pages_unshared");
  if (users.length > 0 || inUse > 0) {
    console.log(
      `ksm bench skipped: KSM is in use here (run=${readKsm("run")}, ${inUse} pages in its trees${users.length ? `, mergeable memory in ${users.join(", ")}` : ""}); not touching it`,
    );
    return [];
  }

  const scratch = mkdtempSync(join(tmpdir(), "overcommit-ksm-"));
  const settings = new KsmSettings(scratch);
  if (!settings.lock()) {
    rmSync(scratch, { recursive: true, force: true });
    console.log(`ksm bench skipped: another KSM bench is running (see ${STATE_FILE})`);
    return [];
  }
  let binary: string;
  try {
    binary = compileHelper(scratch);
  } catch (error) {
    settings.restore(); // nothing changed yet: releases the lock
    rmSync(scratch, { recursive: true, force: true });
    console.log(`ksm bench skipped: the C helper does not build here: ${errorText(error).split("\n")[0]}`);
    return [];
  }

  const rounds = Math.max(1, Number(process.env.KSM_BENCH_ROUNDS ?? 3));
  let helper: Helper | undefined;
  let probe: Probe | undefined;
  const cleanupSync = (): string[] => {
    if (helper && helper.exitCode === null && helper.signalCode === null) helper.kill("SIGKILL");
    const problems = settings.restore();
    rmSync(scratch, { recursive: true, force: true });
    return problems;
  };
  const onExit = (): void => {
    const problems = cleanupSync();
    if (problems.length) process.stderr.write(`ksm bench: could not restore: ${problems.join("; ")}\n`);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`ksm bench: ${signal}: restoring KSM settings\n`);
    onExit();
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
  };
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  const rows: BenchRow[] = [];
  const mismatches: string[] = [];
  try {
    const before = Object.fromEntries(SETTINGS.map((name) => [name, KsmSettings.current(name)]));
    log(`settings before: ${JSON.stringify(before)}, merge_across_nodes ${existsSync(`${KSM}/merge_across_nodes`) ? readKsm("merge_across_nodes") : "n/a"}`);
    if (KsmSettings.current("advisor_mode") !== "none") settings.set("advisor_mode", "none"); // pages_to_scan is the advisor's otherwise
    if (KsmSettings.current("use_zero_pages") !== "0") settings.set("use_zero_pages", 0); // zero pages count in pages_sharing, as ours
    const dir = await rawImagesDir(scratch);
    probe = new Probe(ksmd);
    let pagesToScan = Number(process.env.KSM_BENCH_PAGES_TO_SCAN ?? 10000);

    for (const [setIndex, set] of SETS.entries()) {
      const paths = set.names.map((name) => join(dir, name));
      const ours = await ourScans(paths, {});
      const steadyOursRuns: number[] = [];
      for (let round = 0; round < 3; round++) steadyOursRuns.push(await ourSteadyPagesPerSec(paths));
      const steadyOurs = median(steadyOursRuns);
      const cappedOptions: ImageScanOptions & { maxPageSharing?: number } = { maxPageSharing: KSM_DEFAULT_MAX_PAGE_SHARING };
      const capped = await ourScans(paths, cappedOptions);
      const cappedSupported = (capped.report as { maxPageSharing?: number | null }).maxPageSharing === KSM_DEFAULT_MAX_PAGE_SHARING;

      const started = await startHelper(binary, paths);
      helper = started.helper;
      const pages = started.pages;
      if (pages !== ours.report.pages) throw new Error(`the helper mapped ${pages} pages, our scan loaded ${ours.report.pages}`);
      if (setIndex === 0 && process.env.KSM_BENCH_SWEEP === "1") pagesToScan = await chooseSweep(settings, probe, pages, rounds, helper.pid ?? 0);

      const exactLimit = Math.max(pages, KSM_DEFAULT_MAX_PAGE_SHARING);
      const exact: KsmRun[] = [];
      const atDefault: KsmRun[] = [];
      for (let round = 0; round < rounds; round++) {
        exact.push(await ksmRun(settings, probe, pages, exactLimit, pagesToScan, true, helper.pid ?? 0));
        atDefault.push(await ksmRun(settings, probe, pages, KSM_DEFAULT_MAX_PAGE_SHARING, pagesToScan, false, helper.pid ?? 0));
      }
      helper.stdin.write("verify\n");
      const verified = await started.lines();
      if (!verified.startsWith("verified")) throw new Error(`after KSM's merges the helper's memory differs from the images: ${verified}`);
      await stopHelper(helper);
      helper = undefined;

      const label = `${set.label} (${fmt(pages)} pages)`;
      for (const [name, runs] of [["max_page_sharing >= pages", exact], ["max_page_sharing 256", atDefault]] as const) {
        for (const r of runs) {
          log(
            `${label}, ${name}: pages_shared ${r.pagesShared}, pages_sharing ${r.pagesSharing}; final values after ${(r.mergedSeconds * 1000).toFixed(1)} ms, ` +
              `converged (end of scan ${r.convergeScans}) after ${(r.convergeSeconds * 1000).toFixed(1)} ms wall, ksmd CPU ${(r.convergeCpuSeconds * 1000).toFixed(1)} ms ` +
              `(stat ticks ${(r.convergeStatCpuSeconds * 1000).toFixed(0)} ms); per scan wall/CPU ms ${r.perScan.map((p) => `#${p.scan} ${p.wallMs.toFixed(1)}/${p.cpuMs.toFixed(1)}`).join(", ")}; ${r.extra}` +
              (r.steady ? `; steady ${fmt(Math.round(r.steady.pagesPerSec))} pages/s (${r.steady.scanMs.toFixed(2)} ms/scan over ${r.steady.scans} scans, ${fmt(Math.round(r.steady.cpuPagesPerSec))} pages per ksmd CPU-second)` : "") +
              (r.steadyNoSmart ? `; smart_scan=0: ${fmt(Math.round(r.steadyNoSmart.pagesPerSec))} pages/s (${r.steadyNoSmart.scanMs.toFixed(2)} ms/scan)` : ""),
          );
        }
      }
      log(
        `${label}, ours: savedPages ${ours.report.savedPages}, sharedFrames ${ours.report.sharedFrames}, scan ${(ours.scanSeconds * 1000).toFixed(2)} ms (${ours.report.passes} passes; first pass ${(ours.firstPassSeconds * 1000).toFixed(2)} ms), steady ${fmt(Math.round(steadyOurs))} pages/s; ` +
          (cappedSupported ? `maxPageSharing 256: savedPages ${capped.report.savedPages}, sharedFrames ${capped.report.sharedFrames}` : "maxPageSharing not supported by scanImages yet"),
      );

      // Savings: exact at max_page_sharing >= pages; KSM's run-to-run figures must agree too.
      for (const r of exact) {
        if (r.pagesSharing !== ours.report.savedPages || r.pagesShared !== ours.report.sharedFrames) {
          mismatches.push(
            `${label}, max_page_sharing ${r.maxPageSharing}: KSM pages_sharing ${r.pagesSharing}, pages_shared ${r.pagesShared}; ours savedPages ${ours.report.savedPages}, sharedFrames ${ours.report.sharedFrames}`,
          );
        }
      }
      const ksmExact = exact[0];
      const ksmDefault = atDefault[0];
      if (!ksmExact || !ksmDefault) throw new Error("no KSM run");
      const atDefaultVaries = atDefault.some((r) => r.pagesSharing !== ksmDefault.pagesSharing || r.pagesShared !== ksmDefault.pagesShared);

      const steadyRuns = exact.flatMap((r) => (r.steady ? [r.steady] : []));
      const noSmartRuns = exact.flatMap((r) => (r.steadyNoSmart ? [r.steadyNoSmart] : []));
      const peersTime = {
        [`KSM wall (sleep_millisecs 0, pages_to_scan ${fmt(pagesToScan)})`]: median(exact.map((r) => r.convergeSeconds)) * 1000,
        "KSM ksmd CPU time": median(exact.map((r) => r.convergeCpuSeconds)) * 1000,
      };
      rows.push({
        name: `sharing scan vs KSM: time to converge (merging done, then one full pass/scan that changes nothing; lower is better), ${label}`,
        unit: "ms",
        ours: ours.scanSeconds * 1000,
        peers: peersTime,
      });
      const steadyPeers: Record<string, number> = {};
      if (steadyRuns.length) {
        steadyPeers[`KSM (wall, smart_scan ${settings.original("smart_scan")})`] = median(steadyRuns.map((s) => s.pagesPerSec));
        steadyPeers["KSM per ksmd CPU-second"] = median(steadyRuns.map((s) => s.cpuPagesPerSec));
      }
      if (noSmartRuns.length) steadyPeers["KSM (wall, smart_scan 0)"] = median(noSmartRuns.map((s) => s.pagesPerSec));
      rows.push({ name: `sharing scan vs KSM: steady pages/s (converged, unchanged memory), ${label}`, unit: "pages/s", ours: steadyOurs, peers: steadyPeers });
      rows.push({
        name: `sharing scan vs KSM: savings at max_page_sharing ${fmt(exactLimit)} (>= pages), ${label}`,
        unit: "pages saved (KSM pages_sharing)",
        ours: ours.report.savedPages,
        peers: { "KSM pages_sharing": ksmExact.pagesSharing },
        target: `equal; shared frames: ours ${fmt(ours.report.sharedFrames)}, KSM pages_shared ${fmt(ksmExact.pagesShared)}`,
      });
      if (cappedSupported) {
        const equal = capped.report.savedPages === ksmDefault.pagesSharing && capped.report.sharedFrames === ksmDefault.pagesShared;
        if (!equal || atDefaultVaries) {
          log(
            `NOTE ${label}: at max_page_sharing 256 ours saved ${capped.report.savedPages} (${capped.report.sharedFrames} frames), KSM ${atDefault.map((r) => `${r.pagesSharing} (${r.pagesShared})`).join(", ")}`,
          );
        }
        rows.push({
          name: `sharing scan vs KSM: savings at max_page_sharing 256 (KSM's default; ours maxPageSharing 256), ${label}`,
          unit: "pages saved (KSM pages_sharing)",
          ours: capped.report.savedPages,
          peers: { "KSM pages_sharing": ksmDefault.pagesSharing },
          target: `equal; shared frames: ours ${fmt(capped.report.sharedFrames)}, KSM pages_shared ${fmt(ksmDefault.pagesShared)}${equal ? "" : " (DIFFERENT)"}`,
        });
      } else {
        log(`${label}: scanImages has no maxPageSharing option yet: KSM at max_page_sharing 256 saved ${ksmDefault.pagesSharing} (pages_shared ${ksmDefault.pagesShared}), not compared`);
      }
    }
  } finally {
    if (helper) await stopHelper(helper).catch(() => helper?.kill("SIGKILL"));
    helper = undefined;
    probe?.close();
    const problems = cleanupSync();
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    const after = Object.fromEntries(SETTINGS.map((name) => [name, KsmSettings.current(name)]));
    log(`settings after: ${JSON.stringify(after)}${problems.length ? `; NOT RESTORED: ${problems.join("; ")}` : " (restored)"}`);
    if (problems.length) throw new Error(`KSM settings not restored: ${problems.join("; ")}`);
  }
  if (mismatches.length) {
    throw new Error(`sharing scan and KSM disagree on savings with max_page_sharing >= pages (a bug):\n  ${mismatches.join("\n  ")}`);
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await run();
  if (rows.length > 0) printRows(rows);
}
