// Synthetic series shaped like a host's metrics (whole pages in MiB, rates over whole seconds, a
// few plain doubles), of any length: to size and time the report page with a million samples
// without simulating them (test/report-browser.test.ts). Seeded, so the same call gives the same data.
import { HOST_SERIES, VM_SERIES, type HostSeries, type SeriesRun, type VmSeries } from "./series.ts";
import { Random } from "../sim/random.ts";

const MIB = 256;

export function syntheticRun(options: { samples: number; vms: number; intervalSec?: number; seed?: number; label?: string }): SeriesRun {
  const { samples, vms } = options;
  const interval = options.intervalSec ?? 1;
  const rng = new Random(options.seed ?? 1);
  const rand = (): number => rng.nextFloat();
  const column = (): Float64Array => new Float64Array(samples);
  const time = column();
  const host = {} as Record<HostSeries, Float64Array>;
  for (const name of HOST_SERIES) host[name] = name === "MINFREE_CLEAR" ? column().fill(Number.NaN) : column();
  const vmSets = Array.from({ length: vms }, (_, i) => {
    const columns = {} as Record<VmSeries, Float64Array>;
    for (const name of VM_SERIES) columns[name] = column();
    return { name: `vm${i + 1}`, columns };
  });
  const hostPages = 4096 * MIB;
  const vmPages = Math.floor((hostPages * 1.5) / Math.max(1, vms));
  const fractions: [HostSeries, number][] = [["MINFREE_HIGH", 0.06], ["MINFREE_SOFT", 0.04], ["MINFREE_HARD", 0.02], ["MINFREE_LOW", 0.01]];
  const state = vmSets.map(() => ({ granted: 0, shared: 0, zero: 0, zip: 0, swapped: 0, balloon: 0, target: 0, active: 0.2, estimate: 0.2 }));
  let saved = 0;
  const set = (values: Float64Array, s: number, v: number): void => {
    values[s] = v;
  };
  for (let s = 0; s < samples; s++) {
    time[s] = (s + 1) * interval;
    const phase = Math.sin((2 * Math.PI * s) / Math.max(1000, samples / 7));
    let used = 0;
    let zip = 0;
    for (const vm of state) {
      const want = Math.floor(vmPages * (0.55 + 0.35 * phase) + (rand() - 0.5) * 2000);
      vm.granted = Math.max(0, Math.min(vmPages - vm.balloon - vm.zip - vm.swapped, vm.granted + Math.sign(want - vm.granted) * Math.floor(rand() * 900)));
      vm.shared = Math.min(vm.granted, Math.floor(vm.granted * 0.18 + rand() * 40));
      vm.zero = Math.min(vm.shared, Math.floor(vm.granted * 0.05));
      used += vm.granted - vm.shared + vm.shared / 3;
    }
    const free = Math.max(0, hostPages - used);
    const soft = free < hostPages * 0.04;
    const hard = free < hostPages * 0.02;
    state.forEach((vm, i) => {
      const c = (vmSets[i] as (typeof vmSets)[number]).columns;
      vm.target = soft ? Math.min(vmPages / 2, vm.target + 512) : Math.max(0, vm.target - 256);
      vm.balloon += Math.sign(vm.target - vm.balloon) * Math.min(128, Math.abs(vm.target - vm.balloon));
      const zipped = hard ? Math.floor(rand() * 64) : 0;
      const unzipped = vm.zip > 0 ? Math.floor(rand() * 8) : 0;
      const out = hard ? Math.floor(rand() * 32) : 0;
      const back = vm.swapped > 0 ? Math.floor(rand() * 4) : 0;
      vm.zip = Math.max(0, vm.zip + zipped - unzipped);
      vm.swapped = Math.max(0, vm.swapped + out - back);
      vm.active = Math.min(1, Math.max(0, vm.active + (rand() - 0.5) * 0.02));
      zip += vm.zip;
      set(c.MEMSZ, s, vmPages / MIB);
      set(c.GRANT, s, vm.granted / MIB);
      set(c.SHRD, s, vm.shared / MIB);
      set(c.ZERO, s, vm.zero / MIB);
      set(c.ZIP, s, vm.zip / MIB);
      set(c.SWCUR, s, vm.swapped / MIB);
      set(c.BALLOONED, s, vm.balloon / MIB);
      set(c.UNTOUCHED, s, Math.max(0, vmPages - vm.granted - vm.zip - vm.swapped - vm.balloon) / MIB);
      set(c.MCTLSZ, s, vm.balloon / MIB);
      set(c.MCTLTGT, s, vm.target / MIB);
      set(c["SWR/s"], s, back / interval / MIB);
      set(c["SWW/s"], s, out / interval / MIB);
      set(c["ZIP/s"], s, zipped / interval / MIB);
      set(c["UNZIP/s"], s, unzipped / interval / MIB);
      // The estimate changes once a sampling period (60 samples); the truth every sample.
      if (s % 60 === 0) vm.estimate = Math.round(vm.active * 100) / 100;
      set(c.TCHD, s, vm.estimate * (vmPages / MIB));
      set(c.TCHD_TRUE, s, ((Math.round(vm.active * vmPages) / vmPages) * vmPages) / MIB);
      set(c.rho, s, 1 / (1 + vm.granted / MIB) + rand() * 1e-3);
    });
    const shownFree = Math.floor(Math.max(0, free - zip / 2));
    saved = Math.max(0, saved + Math.floor((rand() - 0.45) * 50));
    const f = shownFree / hostPages;
    host.FREE[s] = shownFree / MIB;
    host.STATE[s] = f >= 0.06 ? 0 : f >= 0.04 ? 2 : f >= 0.02 ? 3 : 4;
    host.HOST_SHRDSVD[s] = saved / MIB;
    host.HOST_ZERO[s] = state.reduce((sum, vm) => sum + vm.zero, 0) / MIB;
    host["SCAN/s"][s] = Math.floor(rand() * 2000) / interval;
    for (const [name, fraction] of fractions) host[name][s] = (hostPages * fraction) / MIB;
  }
  return { label: options.label ?? `synthetic, ${samples.toLocaleString("en-US")} samples`, time, host, vms: vmSets, markers: [] };
}
