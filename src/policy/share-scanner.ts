// Sharing scan scheduling: each VM is rescanned about once per Mem.ShareScanTime, at most
// Mem.ShareRateMax pages per second per VM, and the host as a whole at most Mem.ShareScanGHz MiB/s
// per GHz of host CPU. Each pass visits the VM's pages in a fresh seeded random order.
import type { Machine } from "../core/machine.ts";
import { deriveSeed } from "../sim/random.ts";

export interface ShareScanSettings {
  readonly shareScanTimeMin: number;
  readonly shareRateMax: number;
  readonly shareScanGHz: number;
  readonly hostCpuGHz: number;
}

interface VmScanState {
  position: number;
  pass: number;
  credit: number;
}

export class ShareScanner {
  private readonly states: VmScanState[] = [];
  pagesScanned = 0;

  constructor(
    private readonly machine: Machine,
    private readonly settings: ShareScanSettings,
    private readonly seed: bigint,
  ) {}

  /** Pages per second each VM would be scanned at, after the host cap. */
  ratesPagesPerSec(): number[] {
    const wanted = Array.from({ length: this.machine.vmCount }, (_, vm) =>
      Math.min(this.machine.vmPages(vm) / (this.settings.shareScanTimeMin * 60), this.settings.shareRateMax),
    );
    const hostCap = this.settings.shareScanGHz * this.settings.hostCpuGHz * 256;
    const total = wanted.reduce((a, b) => a + b, 0);
    const scale = total > hostCap ? hostCap / total : 1;
    return wanted.map((w) => w * scale);
  }

  /** One simulated second of scanning. Returns pages merged. */
  tick(): number {
    const rates = this.ratesPagesPerSec();
    let merged = 0;
    for (let vm = 0; vm < rates.length; vm++) {
      const state = (this.states[vm] ??= { position: 0, pass: 0, credit: 0 });
      state.credit += rates[vm] ?? 0;
      let budget = Math.floor(state.credit);
      state.credit -= budget;
      const pages = this.machine.vmPages(vm);
      while (budget > 0) {
        const count = Math.min(budget, pages - state.position);
        merged += this.machine.scanVmOrder(vm, deriveSeed(this.seed, vm * 1_000_003 + state.pass), state.position, count);
        this.pagesScanned += count;
        budget -= count;
        state.position += count;
        if (state.position >= pages) {
          state.position = 0;
          state.pass++;
        }
      }
    }
    return merged;
  }
}
