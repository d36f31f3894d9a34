// The built-in demo scan: several generated VMs "booted from the same OS", so that most of their
// kernel and library pages are identical, plus private application data and zero pages.
import { Machine } from "../core/machine.ts";
import { Random } from "../sim/random.ts";
import { formatInt, formatMiB, formatPercent, table } from "./format.ts";

export interface DemoOptions {
  vms: number;
  memoryMiB: number;
  seed: bigint;
}

export function runDemo(options: DemoOptions): string {
  const pagesPerVm = options.memoryMiB * 256;
  const machine = Machine.create({ frames: pagesPerVm * options.vms, maxVms: options.vms });
  try {
    const rng = new Random(options.seed);
    const random = (): number => rng.nextFloat();
    const osPages = Math.floor(pagesPerVm * 0.35);
    for (let v = 0; v < options.vms; v++) {
      const vm = machine.addVm({ name: `demo${v}`, pages: pagesPerVm });
      const gpns = new Uint32Array(pagesPerVm);
      const seeds = new Array<bigint>(pagesPerVm);
      for (let gpn = 0; gpn < pagesPerVm; gpn++) {
        gpns[gpn] = gpn;
        const r = random();
        if (gpn < osPages) seeds[gpn] = r < 0.9 ? BigInt(gpn + 1) : BigInt(1_000_000 * (v + 1) + gpn); // OS image, 10% patched
        else if (r < 0.15) seeds[gpn] = 0n; // zeroed memory
        else seeds[gpn] = (BigInt(v + 1) << 40n) | BigInt(gpn) | (BigInt(Math.floor(random() * 4)) << 62n); // application data
      }
      machine.writeSeeds(vm, gpns, seeds);
    }
    const scan = machine.scanToConvergence({ seed: options.seed });
    const host = machine.hostCounters();
    const rows = Array.from({ length: options.vms }, (_, vm) => {
      const c = machine.vmCounters(vm);
      return [machine.vmName(vm), formatMiB(pagesPerVm), formatInt(c.sharedPages), formatInt(c.zeroPages), formatInt(c.privatePages)];
    });
    const total = pagesPerVm * options.vms;
    return [
      `overcommit demo: ${options.vms} generated VMs of ${options.memoryMiB} MiB booted from the same OS content, sharing scan to convergence`,
      "",
      table(["vm", "memory", "shared", "zero", "private"], rows),
      "",
      `machine frames in use  ${formatInt(total - host.framesFree)} of ${formatInt(total)} after sharing`,
      `saved                  ${formatInt(host.savedPages)} pages (${formatMiB(host.savedPages)}, ${formatPercent(host.savedPages, total)}) in ${formatInt(host.sharedFrames)} shared frames`,
      `scan                   ${scan.passes} passes, ${formatInt(scan.scannedPages / scan.scanSeconds)} pages/s`,
    ].join("\n");
  } finally {
    machine.dispose();
  }
}
