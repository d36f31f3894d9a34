// Seeded synthetic traces: many VMs with zipfian working sets, phase changes, and VMs that boot
// the same OS content (so page sharing has something to find). Generated as a stream of chunks,
// so a trace of 10^8 events never exists in memory; `overcommit trace gen` writes it to a file.
import { Random, deriveSeed } from "../sim/random.ts";
import { TraceChunk, TraceOp, type TraceHeader, type TraceSource } from "./events.ts";

export type Workload = "zipf" | "boot" | "phases";

export interface GenerateOptions {
  vms: number;
  vmMiB: number;
  events: number;
  durationSec: number;
  seed: bigint;
  workload: Workload;
  /** Percent of events that write new content (the rest are touches). */
  writePct?: number;
  /** Percent of written content drawn from a pool shared by all VMs (identical pages across VMs). */
  sharedPct?: number;
  /** Zipf exponent of page popularity. */
  zipfExponent?: number;
  /** Fraction of each VM's memory in its working set. */
  workingSetFraction?: number;
  /** With "boot": MiB of OS pages every VM writes first (identical content across VMs). */
  bootMiB?: number;
  /** With "phases": seconds per active or idle phase. */
  phaseSec?: number;
}

/**
 * Zipf(n, s) ranks 1..n by rejection-inversion (Hörmann and Derflinger, 1996): O(1) per draw and
 * no table, so it works for millions of pages.
 */
export class ZipfSampler {
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  private readonly threshold: number;

  constructor(
    private readonly n: number,
    private readonly s: number,
  ) {
    if (!(n >= 1) || !(s > 0)) throw new RangeError(`zipf: expected n >= 1 and s > 0, found n=${n} s=${s}`);
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralN = this.hIntegral(n + 0.5);
    this.threshold = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  sample(random: Random): number {
    for (;;) {
      const u = this.hIntegralN + random.nextFloat() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.threshold || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }

  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x));
  }

  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return helper2((1 - this.s) * logX) * logX;
  }

  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.s);
    if (t < -1) t = -1;
    return Math.exp(helper1(t) * x);
  }
}

function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + x * (1 / 3) * (1 + 0.25 * x));
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** A generated trace as a stream of chunks. */
export function generateTrace(options: GenerateOptions, chunkEvents = 65536): TraceSource {
  const pages = Math.floor(options.vmMiB * 256);
  if (options.vms < 1 || options.vms > 65535) throw new RangeError(`vms: expected 1..65535, found ${options.vms}`);
  if (pages < 1) throw new RangeError(`vmMiB: expected at least 1/256 MiB, found ${options.vmMiB}`);
  const header: TraceHeader = { vms: Array.from({ length: options.vms }, (_, i) => ({ name: `vm${i + 1}`, pages })) };
  const writePct = options.writePct ?? 10;
  const sharedPct = options.sharedPct ?? 30;
  const workingSet = Math.max(1, Math.floor(pages * (options.workingSetFraction ?? 0.5)));
  const bootPages = options.workload === "boot" ? Math.min(pages, Math.floor((options.bootMiB ?? options.vmMiB / 4) * 256)) : 0;
  const phaseMs = (options.phaseSec ?? 120) * 1000;
  const durationMs = options.durationSec * 1000;
  let emitted = 0;
  return {
    path: `generated:${options.workload}`,
    format: "generated",
    header,
    get bytesRead() {
      return emitted;
    },
    totalBytes: options.events,
    async *chunks() {
      const random = new Random(options.seed);
      const zipf = new ZipfSampler(workingSet, options.zipfExponent ?? 1);
      // Spread popular ranks over the working set with a stride coprime to its size.
      let stride = Math.max(1, Math.floor(workingSet * 0.618)) | 1;
      while (gcd(stride, workingSet) !== 1) stride += 2;
      const chunk = new TraceChunk(chunkEvents);
      const booted = new Uint32Array(options.vms);
      const idle = new Uint8Array(options.vms);
      const sharedPool = 4096;
      for (let k = 0; k < options.events; k++) {
        const timeMs = Math.floor((k * durationMs) / options.events);
        const vm = random.nextInt(options.vms);
        if (options.workload === "phases") {
          const isIdle = Math.floor((timeMs + vm * 7919) / phaseMs) % 2 === 1 ? 1 : 0;
          if (isIdle !== idle[vm]) {
            idle[vm] = isIdle;
            chunk.push(timeMs, vm, isIdle ? TraceOp.idle : TraceOp.active, 0, 0);
            if (chunk.full) {
              emitted = k;
              yield chunk;
              chunk.clear();
            }
          }
        }
        const bootedPages = booted[vm] ?? 0;
        if (bootedPages < bootPages) {
          // Boot: the same OS image in every VM, page by page.
          const seed = deriveSeed(options.seed ^ 0x05n, bootedPages);
          const os = random.nextFloat() < 0.1 ? 0n : seed | (1n << 62n);
          chunk.push(timeMs, vm, TraceOp.write, bootedPages, 1, Number(os & 0xffffffffn), Number(os >> 32n));
          booted[vm] = bootedPages + 1;
        } else {
          const rank = zipf.sample(random) - 1;
          const activeSet = idle[vm] ? Math.max(1, Math.floor(workingSet / 20)) : workingSet;
          const gpn = bootPages + ((rank % activeSet) * stride) % workingSet;
          const page = gpn < pages ? gpn : gpn % pages;
          if (random.nextFloat() * 100 < writePct) {
            let low: number;
            let high: number;
            if (random.nextFloat() * 100 < sharedPct) {
              const entry = random.nextInt(sharedPool);
              low = (entry * 2654435761) >>> 0 || 1;
              high = (0x40000000 | entry) >>> 0;
            } else {
              low = random.nextUint32() || 1;
              high = (random.nextUint32() & 0x7fffffff) >>> 0;
            }
            chunk.push(timeMs, vm, TraceOp.write, page, 1, low, high);
          } else {
            chunk.push(timeMs, vm, TraceOp.touch, page, 1);
          }
        }
        if (chunk.full) {
          emitted = k + 1;
          yield chunk;
          chunk.clear();
        }
      }
      emitted = options.events;
      if (chunk.count > 0) yield chunk;
    },
  };
}
