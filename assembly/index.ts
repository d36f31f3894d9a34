// The WASM core's exported ABI: everything the TypeScript side may call (src/core/wasm.ts types it).
// Mechanism only: no policy lives in the core.

export { scratchReserve } from "./alloc";
export * from "./hash";
export * from "./compare";
export * from "./lz4";

export { createMachine, auditMachine, auditDetail, setHashMaskForTesting } from "./machine";
export { addVm, vmCount, vmPages, globalPages } from "./vms";
export {
  runBatch, lastBatchStatus, commandRegion, resultRegion, auxRegion, commandCapacity,
  stagingRegion, stagingPages,
} from "./batch";
export { scanHostOrder, scanVmOrder, setMaxPageSharing } from "./sharing";
export { hostCountersBase, vmCountersBase, vmCounterCount, hostCounterCount } from "./counters";
export { fillFromSeed } from "./content";

import { getEntry, validPage } from "./vms";

/** The raw pmap entry of (vm, gpn), or 0xffffffff if out of range. */
export function pmapEntry(vm: u32, gpn: u32): u32 {
  return validPage(vm, gpn) ? getEntry(vm, gpn) : 0xffffffff;
}

import { compressibleSize as pageCompressibleSize, countCompressiblePrivatePages } from "./pages";
import { vmPages as pagesOfVm, vmCount as countOfVms } from "./vms";

/** LZ4 size of a resident page if <= 2048, 0 if larger, -1 if not resident or out of range. */
export function compressibleSize(vm: u32, gpn: u32): i32 {
  return validPage(vm, gpn) ? pageCompressibleSize(vm, gpn) : -1;
}

/** Private pages of `vm` whose LZ4 block fits a cache slot (0 for an unknown VM). */
export function compressiblePrivatePages(vm: u32): u32 {
  return vm < countOfVms() ? countCompressiblePrivatePages(vm, pagesOfVm(vm)) : 0;
}
