// The machine layer: write pages, let the sharing scan find identical ones, break copy-on-write,
// compress and swap a page, and read every counter. Run: npx tsx examples/machine-basics.ts
import { Machine, Status } from "overcommit";

const machine = Machine.create({ memoryMiB: 16 });
try {
  const a = machine.addVm({ name: "a", memoryMiB: 8 });
  const b = machine.addVm({ name: "b", memoryMiB: 8 });

  // The same content in both VMs (a content seed stands for 4096 bytes), plus a zero page.
  for (let gpn = 0; gpn < 100; gpn++) {
    machine.writeSeed(a, gpn, BigInt(gpn + 1));
    machine.writeSeed(b, gpn, BigInt(gpn + 1));
  }
  machine.writeSeed(a, 100, 0n);

  const scan = machine.scanToConvergence({ seed: 1n });
  const host = machine.hostCounters();
  console.log(`scan: ${scan.passes} passes, ${host.sharedFrames} shared frames, ${host.savedPages} pages saved`);

  // A write to a shared page gets a private copy first (copy-on-write).
  machine.writeBytes(b, 0, 0, new Uint8Array([1, 2, 3]));
  console.log(`after one write: page b:0 is ${machine.pageInfo(b, 0).state}, page a:0 is ${machine.pageInfo(a, 0).state}, COW breaks ${machine.vmCounters(b).cowBreaks}`);

  // A compressible page (top bits 01: 1 KiB of random bytes, then zeros) goes to the compression cache;
  // a random one is incompressible and goes to the VM's swap file instead.
  machine.writeSeed(a, 200, (1n << 62n) | 7n);
  const compressed = machine.compress(a, [200, 1]);
  console.log(`compress: page 200 ${compressed.statuses[0] === Status.ok ? "compressed" : "not compressed"}, page 1 ${compressed.statuses[1] === Status.incompressible ? "incompressible" : "?"}`);
  machine.swapOut(a, [2]);
  console.log(`swap: page 2 is ${machine.pageInfo(a, 2).state} in ${machine.swapFilePath(a)}`);

  // Reading brings nothing back; every page reads as last written, wherever it lives.
  const bytes = machine.readPage(a, 2);
  console.log(`page a:2 still reads its content: first bytes ${Array.from(bytes.subarray(0, 4))}`);
  machine.audit(); // the core recomputes every counter from scratch and compares
  console.log("counters of a:", machine.vmCounters(a));
} finally {
  machine.dispose();
}
