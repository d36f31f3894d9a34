// Memory per simulated guest page: bytes of metadata the core keeps per guest page, and how the
// process's RSS grows with the number of VMs and with guest memory size. Each configuration runs
// in a fresh child process so RSS figures do not mix.
//
//   npx tsx bench/memory.bench.ts
//
// Metadata per guest page: the pmap entry (4 bytes) and, per machine frame, 16 bytes of frame
// metadata plus the sharing table's share (capacity >= 2 x frames, 4 bytes a slot); in byte mode
// the frames' own 4096 bytes are the guest's content, not metadata. Fingerprint mode has no frame
// bytes at all. RSS also counts the content of
// every page touched. The peer is Linux KSM's own bookkeeping as documented in mm/ksm.c (an
// rmap_item of 64 bytes per scanned page on x86-64), for scale.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { printRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

const KSM_RMAP_ITEM_BYTES = 64;

interface Measure {
  vms: number;
  vmMiB: number;
  touchedPages: number;
  metadataBytes: number;
  guestPages: number;
  rssMiB: number;
  baselineRssMiB: number;
}

/** Runs in a child: a host with `vms` VMs of `vmMiB`, every page written once, then RSS. */
async function child(vms: number, vmMiB: number): Promise<void> {
  const { Machine } = await import("../src/core/machine.ts");
  const baseline = process.memoryUsage().rss;
  const pagesPerVm = vmMiB * 256;
  const frames = vms * pagesPerVm;
  const machine = Machine.create({ frames, maxVms: vms, swap: "memory" });
  const gpns = new Uint32Array(pagesPerVm).map((_, i) => i);
  const low = new Uint32Array(pagesPerVm);
  const high = new Uint32Array(pagesPerVm);
  for (let v = 0; v < vms; v++) {
    const vm = machine.addVm({ pages: pagesPerVm });
    for (let i = 0; i < pagesPerVm; i++) {
      low[i] = (v * pagesPerVm + i + 1) >>> 0;
      high[i] = 1 << 30; // 1 KiB of random bytes then zeros
    }
    machine.writeSeedWords(vm, gpns, low, high);
  }
  machine.scanToConvergence();
  const tableSlots = Math.max(1024, 2 ** Math.ceil(Math.log2(frames * 2)));
  const metadataBytes = frames * 16 + tableSlots * 4 + vms * pagesPerVm * 4;
  const result: Measure = {
    vms,
    vmMiB,
    touchedPages: frames,
    metadataBytes,
    guestPages: vms * pagesPerVm,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    baselineRssMiB: baseline / 2 ** 20,
  };
  machine.dispose();
  process.stdout.write(JSON.stringify(result));
}

function measure(vms: number, vmMiB: number): Measure {
  const out = execFileSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--child", String(vms), String(vmMiB)], { maxBuffer: 1 << 20 });
  return JSON.parse(out.toString()) as Measure;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [vms, vmMiB] of [[1, 256], [4, 256], [16, 64], [8, 256], [32, 64]] as const) {
    const m = measure(vms, vmMiB);
    const perPage = m.metadataBytes / m.guestPages;
    const rssPerPage = ((m.rssMiB - m.baselineRssMiB) * 2 ** 20) / m.guestPages;
    rows.push({
      name: `${vms} VMs x ${vmMiB} MiB (${m.guestPages.toLocaleString("en-US")} guest pages, all written): metadata per guest page; RSS grew ${(m.rssMiB - m.baselineRssMiB).toFixed(0)} MiB = ${rssPerPage.toFixed(0)} bytes per page (content included)`,
      unit: "bytes/page (lower is better)",
      ours: perPage,
      peers: { "KSM rmap_item per scanned page": KSM_RMAP_ITEM_BYTES },
    });
  }
  return rows;
}

if (process.argv[2] === "--child") {
  await child(Number(process.argv[3]), Number(process.argv[4]));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  printRows(await run());
}
