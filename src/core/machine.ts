// `Machine`: the typed TypeScript face of the WASM core. It owns one core instance (its own linear
// memory), validates every argument before it crosses the boundary, runs page operations in batches
// through the core's command region, moves swapped pages between staging and real per-VM swap
// files, and turns status codes into results or typed errors.
//
// Ops on many pages return a `PageOpResult` (one status per page, and why it stopped early, if it
// did): running out of machine frames is an outcome for the policy layer, not an exception. The
// single-page conveniences (writePage, writeSeed, ...) throw `OutOfFramesError` instead.
import {
  AUDIT_FAILURES, HOST_COUNTER_INDEX, HOST_COUNTER_NAMES, VM_COUNTER_INDEX, HOST_COUNTER_SLOTS, INDEX_MASK, MAX_INDEX, Op, PAGE_BYTES,
  PAGE_SHIFT, PAGE_STATE_NAMES, Status, STATUS_NAMES, TAG_SHIFT, ACCESSED_BIT, VM_COUNTER_NAMES,
  VM_COUNTER_SLOTS, type HostCounterName, type OpCode, type PageStateName, type VmCounterName,
} from "./abi.ts";
import { loadCore, type CoreInstance } from "./wasm.ts";
import {
  ImageFormatError, InvalidArgumentError, OutOfFramesError, OvercommitError, SwapIoError,
} from "./errors.ts";
import type { SwapStore } from "./swap-store.ts";
import { FingerprintSwap } from "./swap-memory.ts";
import { createSwapDirectory, createSwapStore, openReadableFile, removeDirectory } from "./platform.ts";

/** The core's machine-level exports (the kernels' exports are typed in wasm.ts). */
interface MachineExports {
  readonly memory: WebAssembly.Memory;
  createMachine(frames: number, lowFrames: number, maxVms: number, commandCapacity: number, stagingPages: number, fingerprints: number): number;
  auditMachine(): number;
  auditDetail(): number;
  setHashMaskForTesting(mask: bigint): number;
  addVm(pages: number): number;
  globalPages(): bigint;
  runBatch(start: number, end: number): number;
  lastBatchStatus(): number;
  commandRegion(): number;
  resultRegion(): number;
  auxRegion(): number;
  commandCapacity(): number;
  stagingRegion(): number;
  stagingPages(): number;
  scanHostOrder(seed: bigint, from: number, count: number): number;
  scanVmOrder(vm: number, seed: bigint, from: number, count: number): number;
  hostCountersBase(): number;
  vmCountersBase(): number;
  vmCounterCount(): number;
  hostCounterCount(): number;
  pmapEntry(vm: number, gpn: number): number;
  setMaxPageSharing(limit: number): void;
  fillFromSeed(ptr: number, seed: bigint): void;
  compressibleSize(vm: number, gpn: number): number;
  compressiblePrivatePages(vm: number): number;
}

export interface MachineOptions {
  /** Machine memory in MiB (256 frames each). Give this or `frames`. */
  memoryMiB?: number;
  /** Machine memory in 4 KiB frames. */
  frames?: number;
  /** Low memory (reachable by devices without a bounce buffer) at the bottom, in frames. Default 0. */
  lowFrames?: number;
  /** How many VMs this machine can hold. Default 256. */
  maxVms?: number;
  /** Where the per-VM swap files go. Default: a new directory under the OS temp directory. */
  swapDirectory?: string;
  /**
   * "file" (default in Node): each VM swaps to a real file, one preallocated 4 KiB slot per page.
   * "memory": swapped pages stay in memory (no files; the only choice in a browser).
   */
  swap?: "file" | "memory";
  /** Command records per core call. Default 16384. */
  batchRecords?: number;
  /** Staging pages shared with the core (swap and image I/O). Default 256 (1 MiB). */
  stagingPages?: number;
  /**
   * At most this many guest pages share one frame; more copies of a content get another frame
   * (Linux KSM's max_page_sharing, default 256 there). Default: unlimited.
   */
  maxPageSharing?: number;
  /**
   * "bytes" (default): every frame holds its 4096 bytes; anything can be written.
   * "fingerprints": a frame holds the 64-bit content seed (fingerprint) of its page instead, so a
   * host of hundreds of GiB fits; pages can only be written as content seeds, they still read back
   * as the seed's bytes, and sharing, compression, swap and balloon work the same and give the same
   * counters. Writing raw bytes (images, writePage, writeBytes) is refused.
   */
  content?: "bytes" | "fingerprints";
}

export interface VmOptions {
  /** A name for messages and reports. Default `vm<id>`. */
  name?: string;
  /** Configured guest memory in MiB. Give this or `pages`. */
  memoryMiB?: number;
  /** Configured guest memory in 4 KiB pages. */
  pages?: number;
}

export type StopReason = "none" | "noFrames" | "ballooned";

/** The outcome of an operation over many pages. */
export interface PageOpResult {
  /** One status per page (Status codes); pages after `completed` were not attempted. */
  readonly statuses: Uint8Array;
  /** How many pages were processed before it stopped. */
  readonly completed: number;
  /** Why it stopped early ("none" if it did all). */
  readonly stop: StopReason;
}

export interface PageInfo {
  readonly state: PageStateName;
  readonly accessed: boolean;
  /** The MPN for private/shared pages, the cache slot for compressed, the swap slot for swapped. */
  readonly index: number;
}

export type HostCounters = Record<HostCounterName, number>;
export type VmCounters = Record<VmCounterName, number>;

export interface ScanProgress {
  readonly pass: number;
  readonly scannedPages: number;
  readonly totalPages: number;
}

export interface ScanResult {
  /** Full passes run; the last one merged nothing. */
  readonly passes: number;
  /** Pages visited by the scan over all passes. */
  readonly scannedPages: number;
  /** Pages merged into shared frames. */
  readonly mergedPages: number;
  /** Wall-clock seconds spent in scan calls. */
  readonly scanSeconds: number;
  /** Wall-clock seconds of the first pass alone (every page hashed). */
  readonly firstPassSeconds: number;
}

interface VmRecord {
  readonly id: number;
  readonly name: string;
  readonly pages: number;
  readonly swap: SwapStore;
}

const DEFAULT_MAX_VMS = 256;
const DEFAULT_BATCH_RECORDS = 16384;
const DEFAULT_STAGING_PAGES = 256;
const RECORD_WORDS = 4;
const SCAN_CHUNK_PAGES = 32768;
const FRAMES_PER_MIB = 256;
/** Per frame: 16 bytes of metadata and the sharing table's share (2 to 4 slots of 4 bytes); in byte mode also its 4096 bytes. */
const METADATA_BYTES_PER_FRAME = 16 + 4 * 4;
const WASM_MEMORY_LIMIT_BYTES = 4 * 1024 * 1024 * 1024;

/** The largest machine (in frames) that fits the 4 GiB WASM memory next to VMs of `guestPages` in all. */
export function maxFramesThatFit(guestPages = 0, content: "bytes" | "fingerprints" = "bytes"): number {
  const reservedBytes = 64 * 1024 * 1024 + guestPages * 4;
  const perFrame = METADATA_BYTES_PER_FRAME + (content === "bytes" ? 4096 : 0);
  return Math.max(0, Math.floor((WASM_MEMORY_LIMIT_BYTES - reservedBytes) / perFrame));
}

function checkCount(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what}: expected an integer from ${min} to ${max}, found ${String(value)}`);
  }
  return value;
}

function mixSeed(seed: bigint, pass: number): bigint {
  let z = BigInt.asUintN(64, seed + BigInt(pass + 1) * 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}

export class Machine {
  /** Machine memory in 4 KiB frames. */
  readonly frames: number;
  /** What a frame holds: its bytes, or its content's 64-bit fingerprint. */
  readonly content: "bytes" | "fingerprints";
  readonly lowFrames: number;
  readonly maxVms: number;
  readonly swapDirectory: string;
  private readonly core: CoreInstance;
  private readonly raw: MachineExports;
  private readonly vmRecords: VmRecord[] = [];
  private readonly ownsSwapDirectory: boolean;
  private readonly swapKind: "file" | "memory";
  private readonly recordCapacity: number;
  /** The last record and staging page are kept for swap-ins in the middle of a batch. */
  private readonly reservedRecord: number;
  private readonly reservedStagingPage: number;
  private readonly stagingPageCount: number;
  private buffer: ArrayBuffer | undefined;
  private commands = new Uint32Array(0);
  private results = new Uint32Array(0);
  private aux = new Uint32Array(0);
  private staging = new Uint8Array(0);
  private hostCounterView = new BigUint64Array(0);
  private vmCounterView = new BigUint64Array(0);
  private disposed = false;

  private constructor(options: MachineOptions) {
    const frames = options.frames ?? (options.memoryMiB !== undefined ? options.memoryMiB * FRAMES_PER_MIB : undefined);
    if (frames === undefined) throw new InvalidArgumentError("machine memory: give memoryMiB or frames");
    this.content = options.content ?? "bytes";
    const limit = maxFramesThatFit(0, this.content);
    if (typeof frames === "number" && Number.isInteger(frames) && frames > limit) {
      throw new OvercommitError(
        "MACHINE_TOO_LARGE",
        `machine memory: ${frames} frames (${(frames / FRAMES_PER_MIB).toFixed(0)} MiB) do not fit the 4 GiB WASM memory; ` +
          `at most about ${limit} frames (${Math.floor(limit / FRAMES_PER_MIB)} MiB): run the scenario scaled down`,
      );
    }
    this.frames = checkCount(options.frames !== undefined ? "frames" : "memoryMiB * 256 frames", frames, 1, limit);
    this.lowFrames = checkCount("lowFrames", options.lowFrames ?? 0, 0, this.frames);
    this.maxVms = checkCount("maxVms", options.maxVms ?? DEFAULT_MAX_VMS, 1, 65535);
    this.recordCapacity = checkCount("batchRecords", options.batchRecords ?? DEFAULT_BATCH_RECORDS, 2, 1 << 22);
    this.stagingPageCount = checkCount("stagingPages", options.stagingPages ?? DEFAULT_STAGING_PAGES, 2, 1 << 16);
    this.reservedRecord = this.recordCapacity - 1;
    this.reservedStagingPage = this.stagingPageCount - 1;
    this.core = loadCore();
    this.raw = this.core.exports as unknown as MachineExports;
    const created = this.raw.createMachine(this.frames, this.lowFrames, this.maxVms, this.recordCapacity, this.stagingPageCount, this.content === "fingerprints" ? 1 : 0);
    if (!created) {
      throw new OvercommitError("MACHINE_TOO_LARGE", `machine memory: ${this.frames} frames do not fit the 4 GiB WASM memory`);
    }
    if (options.maxPageSharing !== undefined) {
      this.raw.setMaxPageSharing(checkCount("maxPageSharing", options.maxPageSharing, 2, 0xffffffff));
    }
    this.swapKind = options.swap ?? "file";
    this.ownsSwapDirectory = options.swapDirectory === undefined && this.swapKind === "file";
    this.swapDirectory = options.swapDirectory ?? (this.swapKind === "file" ? createSwapDirectory() : "memory");
    this.refreshViews();
  }

  /** Creates a machine with its own WASM core instance. */
  static create(options: MachineOptions): Machine {
    return new Machine(options);
  }

  /** Adds a VM with all pages untouched and an empty swap file. Returns its id (0, 1, ...). */
  addVm(options: VmOptions): number {
    this.checkLive();
    const pages = options.pages ?? (options.memoryMiB !== undefined ? options.memoryMiB * FRAMES_PER_MIB : undefined);
    if (pages === undefined) throw new InvalidArgumentError("VM memory: give memoryMiB or pages");
    checkCount(options.pages !== undefined ? "VM pages" : "VM memoryMiB * 256 pages", pages, 1, MAX_INDEX + 1);
    if (this.vmRecords.length >= this.maxVms) {
      throw new InvalidArgumentError(`VM count: this machine holds at most ${this.maxVms} VMs (maxVms)`);
    }
    const id = this.raw.addVm(pages);
    if (id < 0) {
      throw new OvercommitError("MACHINE_TOO_LARGE", `VM of ${pages} pages: no room left in the 4 GiB WASM memory for its pmap`);
    }
    const name = options.name ?? `vm${id}`;
    const swap = this.content === "fingerprints" ? new FingerprintSwap(`vm${id}`, pages) : createSwapStore(this.swapKind, this.swapDirectory, `vm${id}`, pages);
    this.vmRecords.push({ id, name, pages, swap });
    this.refreshViews();
    return id;
  }

  get vmCount(): number {
    return this.vmRecords.length;
  }

  vmName(vm: number): string {
    return this.vmRecord(vm).name;
  }

  vmPages(vm: number): number {
    return this.vmRecord(vm).pages;
  }

  /** Swap slots in use in the VM's swap file. */
  swapSlotsUsed(vm: number): number {
    return this.vmRecord(vm).swap.usedSlots;
  }

  swapFilePath(vm: number): string {
    return this.vmRecord(vm).swap.path;
  }

  // ---- single pages -------------------------------------------------------------------------

  /** Where (vm, gpn) lives now. */
  pageInfo(vm: number, gpn: number): PageInfo {
    this.checkPage(vm, gpn);
    const entry = this.raw.pmapEntry(vm, gpn) >>> 0;
    return {
      state: PAGE_STATE_NAMES[entry >>> TAG_SHIFT] ?? "untouched",
      accessed: (entry & ACCESSED_BIT) !== 0,
      index: entry & INDEX_MASK,
    };
  }

  /** The 4096 bytes a content seed stands for (what writeSeed writes). */
  seedContent(seed: bigint): Uint8Array {
    this.views();
    const ptr = (this.raw.stagingRegion() >>> 0) + this.reservedStagingPage * PAGE_BYTES;
    this.raw.fillFromSeed(ptr, BigInt.asUintN(64, seed));
    return this.stagingPage(this.reservedStagingPage).slice();
  }

  /** The state code (PageState) of (vm, gpn): a cheaper pageInfo for hot loops. */
  pageStateCode(vm: number, gpn: number): number {
    return (this.raw.pmapEntry(vm, gpn) >>> 0) >>> TAG_SHIFT;
  }

  /** The guest-visible 4096 bytes of (vm, gpn), wherever they live. Changes nothing. */
  readPage(vm: number, gpn: number): Uint8Array {
    this.checkPage(vm, gpn);
    const out = new Uint8Array(PAGE_BYTES);
    this.setRecord(0, Op.peek, vm, gpn, 0, 0);
    const outcome = this.runCommands(1);
    if (outcome.stop !== "none") throw new OvercommitError("CORE_FAILURE", `reading vm ${vm} page ${gpn} stopped: ${outcome.stop}`);
    out.set(this.stagingPage(0));
    return out;
  }

  /** Overwrites (vm, gpn) with 4096 bytes. */
  writePage(vm: number, gpn: number, bytes: Uint8Array): void {
    this.needBytes("writePage");
    this.checkPage(vm, gpn);
    if (bytes.length !== PAGE_BYTES) throw new InvalidArgumentError(`page content: expected ${PAGE_BYTES} bytes, found ${bytes.length}`);
    this.views();
    this.staging.set(bytes, 0);
    this.setRecord(0, Op.writeStaging, vm, gpn, 0, 0);
    this.runSingle(vm, gpn, "write");
  }

  /** Writes `bytes` at byte `offset` of (vm, gpn); the rest of the page keeps its content. */
  writeBytes(vm: number, gpn: number, offset: number, bytes: Uint8Array): void {
    this.needBytes("writeBytes");
    this.checkPage(vm, gpn);
    checkCount("byte offset", offset, 0, PAGE_BYTES);
    if (offset + bytes.length > PAGE_BYTES) {
      throw new InvalidArgumentError(`byte range: offset ${offset} + length ${bytes.length} exceeds the ${PAGE_BYTES}-byte page`);
    }
    if (bytes.length === 0) return;
    this.views();
    this.staging.set(bytes, 0);
    // arg = staging byte offset (0) | page offset << 32 | length << 48
    this.setRecord(0, Op.writeBytes, vm, gpn, 0, (offset & 0xffff) | (bytes.length << 16));
    this.runSingle(vm, gpn, "write");
  }

  /** Overwrites (vm, gpn) with the content of a 64-bit seed (0: zero page). */
  writeSeed(vm: number, gpn: number, seed: bigint): void {
    this.checkPage(vm, gpn);
    const s = BigInt.asUintN(64, seed);
    this.setRecord(0, Op.writeSeed, vm, gpn, Number(s & 0xffffffffn), Number(s >> 32n));
    this.runSingle(vm, gpn, "write");
  }

  // ---- many pages ---------------------------------------------------------------------------

  /** Guest read accesses (first touch allocates a zeroed frame; compressed/swapped pages come back). */
  touch(vm: number, gpns: ArrayLike<number>): PageOpResult {
    return this.perPage(Op.touch, vm, gpns);
  }

  /** Guest write accesses whose bytes are not modelled: breaks COW, marks the content changed. */
  touchWrite(vm: number, gpns: ArrayLike<number>): PageOpResult {
    return this.perPage(Op.touchWrite, vm, gpns);
  }

  /** Overwrites each page with the content of its seed (`seeds[i]` for `gpns[i]`). */
  writeSeeds(vm: number, gpns: ArrayLike<number>, seeds: ArrayLike<bigint>): PageOpResult {
    if (seeds.length !== gpns.length) {
      throw new InvalidArgumentError(`seeds: expected one per page (${gpns.length}), found ${seeds.length}`);
    }
    const low = new Uint32Array(seeds.length);
    const high = new Uint32Array(seeds.length);
    for (let i = 0; i < seeds.length; i++) {
      const s = BigInt.asUintN(64, seeds[i] ?? 0n);
      low[i] = Number(s & 0xffffffffn);
      high[i] = Number(s >> 32n);
    }
    return this.perPage(Op.writeSeed, vm, gpns, { low, high });
  }

  /**
   * Like writeSeeds with each seed given as two u32 words (`seedHigh[i] << 32 | seedLow[i]`): no
   * BigInt per page, for workloads and trace replay.
   */
  writeSeedWords(vm: number, gpns: ArrayLike<number>, seedLow: ArrayLike<number>, seedHigh: ArrayLike<number>): PageOpResult {
    if (seedLow.length !== gpns.length || seedHigh.length !== gpns.length) {
      throw new InvalidArgumentError(`seed words: expected one low and one high word per page (${gpns.length}), found ${seedLow.length} and ${seedHigh.length}`);
    }
    return this.perPage(Op.writeSeed, vm, gpns, { low: seedLow, high: seedHigh });
  }

  /** Compresses each page into the VM's compression cache (Status.incompressible if it does not fit). */
  compress(vm: number, gpns: ArrayLike<number>): PageOpResult {
    return this.perPage(Op.compress, vm, gpns);
  }

  /** The balloon takes these pages: their frames, cache slots or swap slots are freed. */
  inflate(vm: number, gpns: ArrayLike<number>): PageOpResult {
    const result = this.perPage(Op.inflate, vm, gpns, undefined, (i, status, aux) => {
      if (status === Status.ok && aux <= MAX_INDEX) this.vmRecord(vm).swap.release(aux);
      void i;
    });
    return result;
  }

  /** The balloon gives these pages back: untouched, reading as zeros. */
  deflate(vm: number, gpns: ArrayLike<number>): PageOpResult {
    return this.perPage(Op.deflate, vm, gpns);
  }

  /** Sharing scan of these pages, in the given order. */
  scanPages(vm: number, gpns: ArrayLike<number>): PageOpResult {
    return this.perPage(Op.scan, vm, gpns);
  }

  clearAccessed(vm: number, gpns: ArrayLike<number>): void {
    this.perPage(Op.clearAccessed, vm, gpns);
  }

  /** How many of these pages were accessed since their bit was cleared. */
  countAccessed(vm: number, gpns: ArrayLike<number>): number {
    let count = 0;
    this.perPage(Op.testAccessed, vm, gpns, undefined, (_i, _status, aux) => {
      count += aux;
    });
    return count;
  }

  /** Moves private pages into low frames (I/O remapping). */
  moveToLowMemory(vm: number, gpns: ArrayLike<number>): PageOpResult {
    return this.perPage(Op.moveLow, vm, gpns);
  }

  /** Swaps pages out to the VM's swap file (resident or compressed pages; others: wrongState). */
  swapOut(vm: number, gpns: ArrayLike<number>): PageOpResult {
    const record = this.vmRecord(vm);
    this.checkPages(vm, gpns);
    const statuses = new Uint8Array(gpns.length);
    const chunk = Math.min(this.stagingPageCount - 1, this.recordCapacity - 1);
    for (let start = 0; start < gpns.length; start += chunk) {
      const count = Math.min(chunk, gpns.length - start);
      // A slot only for a page that will go out: resident or compressed, and not already going out
      // earlier in this chunk. The others (swapped, ballooned, untouched, repeated) get none, and the
      // core answers wrongState without using the record's slot. The file has one slot per guest
      // page, so the pages that go out always find one (a slot for every record would not: a list
      // naming swapped or repeated pages ran the file "full" and leaked the slots already taken).
      const slots: number[] = [];
      const goingOut = new Set<number>();
      for (let k = 0; k < count; k++) {
        const gpn = gpns[start + k] ?? 0;
        const state = PAGE_STATE_NAMES[this.raw.pmapEntry(vm, gpn) >>> TAG_SHIFT];
        let slot = -1;
        if ((state === "private" || state === "shared" || state === "compressed") && !goingOut.has(gpn)) {
          goingOut.add(gpn);
          slot = record.swap.allocate();
          if (slot < 0) {
            for (const taken of slots) if (taken >= 0) record.swap.release(taken);
            throw new SwapIoError(`swap file ${record.swap.path} is full (${record.swap.slots} slots)`);
          }
        }
        slots.push(slot);
        this.setRecord(k, Op.swapOut, vm, gpn, Math.max(slot, 0), k);
      }
      const outcome = this.runCommands(count);
      this.views();
      for (let k = 0; k < count; k++) {
        const status = k < outcome.done ? (this.results[k] ?? Status.badArgument) : Status.skipped;
        statuses[start + k] = status;
        const slot = slots[k] ?? -1;
        if (status !== Status.ok) {
          if (slot >= 0) record.swap.release(slot);
          slots[k] = -1;
        } else if (slot < 0) {
          throw new OvercommitError("CORE_FAILURE", `swap-out of vm ${vm} page ${gpns[start + k]}: the core swapped out a page that was given no swap slot`);
        }
      }
      // One write per run of consecutive slots (staging pages are consecutive too): slots are
      // handed out in order, so a batch usually goes to the file in a few large writes.
      for (let k = 0; k < count; ) {
        const first = slots[k] ?? -1;
        if (first < 0) {
          k++;
          continue;
        }
        let end = k + 1;
        while (end < count && slots[end] === first + (end - k)) end++;
        try {
          record.swap.write(first, this.staging.subarray(k * PAGE_BYTES, end * PAGE_BYTES));
        } catch (error) {
          this.restoreFromStaging(vm, gpns, start, k, count, slots);
          throw error;
        }
        k = end;
      }
    }
    return { statuses, completed: gpns.length, stop: "none" };
  }

  /** Brings swapped pages back from the swap file. */
  swapIn(vm: number, gpns: ArrayLike<number>): PageOpResult {
    this.vmRecord(vm);
    const statuses = new Uint8Array(gpns.length);
    for (let i = 0; i < gpns.length; i++) {
      const gpn = gpns[i] ?? -1;
      this.checkPage(vm, gpn);
      const entry = this.raw.pmapEntry(vm, gpn) >>> 0;
      if (entry >>> TAG_SHIFT !== 4) {
        statuses[i] = Status.wrongState;
        continue;
      }
      const status = this.swapInPage(vm, gpn, entry & INDEX_MASK);
      statuses[i] = status;
      if (status === Status.noFrames) return { statuses, completed: i, stop: "noFrames" };
    }
    return { statuses, completed: gpns.length, stop: "none" };
  }

  /**
   * Loads consecutive pages from `bytes` (a multiple of 4096 long) into the VM from `firstGpn` on,
   * as guest writes. Stops early (and says so) if machine memory runs out.
   */
  loadPages(vm: number, firstGpn: number, bytes: Uint8Array): PageOpResult {
    this.needBytes("loadPages");
    const record = this.vmRecord(vm);
    if (bytes.length % PAGE_BYTES !== 0) {
      throw new InvalidArgumentError(`page data: expected a multiple of ${PAGE_BYTES} bytes, found ${bytes.length}`);
    }
    const pages = bytes.length / PAGE_BYTES;
    if (!Number.isInteger(firstGpn) || firstGpn < 0 || firstGpn + pages > record.pages) {
      throw new InvalidArgumentError(
        `pages ${firstGpn}..${firstGpn + pages - 1} of vm ${vm} (${record.name}): expected GPNs 0..${record.pages - 1}`,
        "GPN_OUT_OF_RANGE",
      );
    }
    const statuses = new Uint8Array(pages);
    const chunk = Math.min(this.stagingPageCount - 1, this.recordCapacity - 1);
    for (let start = 0; start < pages; start += chunk) {
      const count = Math.min(chunk, pages - start);
      this.views();
      this.staging.set(bytes.subarray(start * PAGE_BYTES, (start + count) * PAGE_BYTES), 0);
      for (let k = 0; k < count; k++) this.setRecord(k, Op.writeStaging, vm, firstGpn + start + k, k, 0);
      const outcome = this.runCommands(count);
      this.copyStatuses(statuses, start, outcome.done);
      if (outcome.stop !== "none") return { statuses, completed: start + outcome.done, stop: outcome.stop };
    }
    return { statuses, completed: pages, stop: "none" };
  }

  /**
   * Streams a raw memory image (whole 4096-byte pages, no header) into the VM from GPN 0, reading
   * it straight into staging in chunks: never loaded whole. Throws ImageFormatError for a size that
   * is not a multiple of 4096 or larger than the VM, OutOfFramesError if machine memory runs out.
   */
  async loadImage(vm: number, path: string, onProgress?: (pagesLoaded: number, totalPages: number) => void): Promise<number> {
    this.needBytes("loadImage");
    const record = this.vmRecord(vm);
    const file = await openReadableFile(path).catch((cause: unknown) => {
      throw new ImageFormatError(path, `cannot open: ${cause instanceof Error ? cause.message : String(cause)}`);
    });
    try {
      const size = file.size;
      if (size % PAGE_BYTES !== 0) {
        throw new ImageFormatError(path, `size ${size} bytes is not a multiple of ${PAGE_BYTES} (a raw image is whole 4 KiB pages; ${size % PAGE_BYTES} bytes too many or too few)`);
      }
      const pages = size / PAGE_BYTES;
      if (pages > record.pages) {
        throw new ImageFormatError(path, `${pages} pages do not fit vm ${vm} (${record.name}) of ${record.pages} pages`);
      }
      const chunk = Math.min(this.stagingPageCount - 1, this.recordCapacity - 1);
      for (let start = 0; start < pages; start += chunk) {
        const count = Math.min(chunk, pages - start);
        this.views();
        const target = this.staging.subarray(0, count * PAGE_BYTES);
        let filled = 0;
        while (filled < target.length) {
          const bytesRead = await file.read(target, filled, target.length - filled, start * PAGE_BYTES + filled);
          if (bytesRead === 0) throw new ImageFormatError(path, `ended at byte ${start * PAGE_BYTES + filled}, expected ${size} bytes (file changed while reading?)`);
          filled += bytesRead;
        }
        for (let k = 0; k < count; k++) this.setRecord(k, Op.writeStaging, vm, start + k, k, 0);
        const outcome = this.runCommands(count);
        if (outcome.stop !== "none") {
          throw new OutOfFramesError(`loading ${path} into vm ${vm}: machine memory (${this.frames} frames) ran out at page ${start + outcome.done} of ${pages}`);
        }
        onProgress?.(start + count, pages);
      }
      return pages;
    } finally {
      await file.close();
    }
  }

  // ---- sharing scan -------------------------------------------------------------------------

  /** Scans positions [from, from + count) of the seeded host-wide random order. Returns merges. */
  scanHostOrder(seed: bigint, from: number, count: number): number {
    this.checkLive();
    checkCount("scan position", from, 0, 0xffffffff);
    checkCount("scan count", count, 0, 0xffffffff);
    return this.raw.scanHostOrder(BigInt.asUintN(64, seed), from >>> 0, count >>> 0);
  }

  /** Scans positions [from, from + count) of the seeded random order of one VM. Returns merges. */
  scanVmOrder(vm: number, seed: bigint, from: number, count: number): number {
    this.vmRecord(vm);
    checkCount("scan position", from, 0, 0xffffffff);
    checkCount("scan count", count, 0, 0xffffffff);
    return this.raw.scanVmOrder(vm, BigInt.asUintN(64, seed), from >>> 0, count >>> 0);
  }

  /** Total guest pages of all VMs (the host-wide scan order's length). */
  get totalGuestPages(): number {
    return Number(this.raw.globalPages());
  }

  /**
   * Full passes over every page of every VM, each in a fresh seeded random order, until a pass
   * merges nothing. Deterministic for a seed.
   */
  scanToConvergence(options: { seed?: bigint; maxPasses?: number; onProgress?: (progress: ScanProgress) => void } = {}): ScanResult {
    this.checkLive();
    const seed = options.seed ?? 1n;
    const maxPasses = options.maxPasses ?? 64;
    const total = this.totalGuestPages;
    let passes = 0;
    let merged = 0;
    let scanned = 0;
    let seconds = 0;
    let firstPassSeconds = 0;
    while (passes < maxPasses) {
      const passSeed = mixSeed(seed, passes);
      let passMerged = 0;
      const started = performance.now();
      for (let from = 0; from < total; from += SCAN_CHUNK_PAGES) {
        const count = Math.min(SCAN_CHUNK_PAGES, total - from);
        passMerged += this.raw.scanHostOrder(passSeed, from, count);
        scanned += count;
        options.onProgress?.({ pass: passes + 1, scannedPages: from + count, totalPages: total });
      }
      const passSeconds = (performance.now() - started) / 1000;
      if (passes === 0) firstPassSeconds = passSeconds;
      seconds += passSeconds;
      passes++;
      merged += passMerged;
      if (passMerged === 0) break;
    }
    return { passes, scannedPages: scanned, mergedPages: merged, scanSeconds: seconds, firstPassSeconds };
  }

  /** The LZ4 block size of a resident page if it fits a 2048-byte cache slot, else 0; -1 if not resident. */
  compressibleSize(vm: number, gpn: number): number {
    this.checkPage(vm, gpn);
    return this.raw.compressibleSize(vm, gpn);
  }

  /** How many of the VM's private (unshared) pages would fit a compression-cache slot. */
  compressiblePrivatePages(vm: number): number {
    this.vmRecord(vm);
    return this.raw.compressiblePrivatePages(vm) >>> 0;
  }

  // ---- counters and checks ------------------------------------------------------------------

  hostCounters(): HostCounters {
    this.views();
    const out = {} as HostCounters;
    HOST_COUNTER_NAMES.forEach((name, i) => {
      out[name] = Number(this.hostCounterView[i] ?? 0n);
    });
    return out;
  }

  vmCounters(vm: number): VmCounters {
    this.vmRecord(vm);
    this.views();
    const base = vm * VM_COUNTER_SLOTS;
    const out = {} as VmCounters;
    VM_COUNTER_NAMES.forEach((name, i) => {
      out[name] = Number(this.vmCounterView[base + i] ?? 0n);
    });
    return out;
  }

  /** One host counter, without building the whole record (for hot loops). */
  hostCounter(name: HostCounterName): number {
    this.views();
    return Number(this.hostCounterView[HOST_COUNTER_INDEX[name]] ?? 0n);
  }

  /** One counter of a VM, without building the whole record (for hot loops). */
  vmCounter(vm: number, name: VmCounterName): number {
    this.views();
    return Number(this.vmCounterView[vm * VM_COUNTER_SLOTS + VM_COUNTER_INDEX[name]] ?? 0n);
  }

  /** Recomputes every counter and link from scratch inside the core; throws if anything disagrees. */
  audit(): void {
    this.checkLive();
    const code = this.raw.auditMachine();
    if (code !== 0) {
      const detail = this.raw.auditDetail() >>> 0;
      throw new OvercommitError("CORE_FAILURE", `core audit failed: ${AUDIT_FAILURES[code] ?? `code ${code}`} (at ${detail})`);
    }
  }

  /** Test hook: AND every page hash with `mask` to force hash collisions. Only before any scan. */
  setHashMaskForTesting(mask: bigint): void {
    if (!this.raw.setHashMaskForTesting(BigInt.asUintN(64, mask))) {
      throw new InvalidArgumentError("hash mask: can only be set while the sharing table is empty");
    }
  }

  /** Closes and deletes the swap files (and their directory if the machine made it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const record of this.vmRecords) record.swap.dispose();
    if (this.ownsSwapDirectory) removeDirectory(this.swapDirectory);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Refuses an operation that stores raw bytes on a fingerprint machine. */
  private needBytes(operation: string): void {
    if (this.content === "fingerprints") {
      throw new InvalidArgumentError(
        `${operation}: this machine holds content fingerprints, not bytes (content: "fingerprints"): write pages as content seeds (writeSeed, writeSeedWords), or create it with content: "bytes"`,
        "NEEDS_BYTES",
      );
    }
  }

  private checkLive(): void {
    if (this.disposed) throw new OvercommitError("DISPOSED", "this machine has been disposed");
  }

  private vmRecord(vm: number): VmRecord {
    this.checkLive();
    const record = Number.isInteger(vm) ? this.vmRecords[vm] : undefined;
    if (!record) {
      throw new InvalidArgumentError(
        this.vmRecords.length === 0
          ? `VM ${String(vm)}: no such VM (this machine has no VMs yet: add one with addVm)`
          : `VM ${String(vm)}: no such VM (this machine has ${this.vmRecords.length}: ids 0..${this.vmRecords.length - 1})`,
        "UNKNOWN_VM",
      );
    }
    return record;
  }

  private checkPage(vm: number, gpn: number | undefined): void {
    const record = this.vmRecord(vm);
    if (typeof gpn !== "number" || !Number.isInteger(gpn) || gpn < 0 || gpn >= record.pages) {
      throw new InvalidArgumentError(
        `GPN ${String(gpn)} of vm ${vm} (${record.name}): expected 0..${record.pages - 1}`,
        "GPN_OUT_OF_RANGE",
      );
    }
  }

  /** Validates many GPNs at once: one cheap loop, and a precise error for the first bad one. */
  private checkPages(vm: number, gpns: ArrayLike<number>): void {
    const pages = this.vmRecord(vm).pages;
    const integral = gpns instanceof Uint32Array || gpns instanceof Uint16Array || gpns instanceof Uint8Array || gpns instanceof Int32Array;
    for (let i = 0; i < gpns.length; i++) {
      const gpn = gpns[i] as number;
      if (!(gpn >= 0 && gpn < pages) || (!integral && !Number.isInteger(gpn))) this.checkPage(vm, gpn);
    }
  }

  private refreshViews(): void {
    const buffer = this.raw.memory.buffer as ArrayBuffer;
    this.buffer = buffer;
    const commandsPtr = this.raw.commandRegion() >>> 0;
    this.commands = new Uint32Array(buffer, commandsPtr, this.recordCapacity * RECORD_WORDS);
    this.results = new Uint32Array(buffer, this.raw.resultRegion() >>> 0, this.recordCapacity);
    this.aux = new Uint32Array(buffer, this.raw.auxRegion() >>> 0, this.recordCapacity);
    this.staging = new Uint8Array(buffer, this.raw.stagingRegion() >>> 0, this.stagingPageCount * PAGE_BYTES);
    this.hostCounterView = new BigUint64Array(buffer, this.raw.hostCountersBase() >>> 0, HOST_COUNTER_SLOTS);
    this.vmCounterView = new BigUint64Array(buffer, this.raw.vmCountersBase() >>> 0, this.maxVms * VM_COUNTER_SLOTS);
  }

  /** Views go stale when the memory grows (only addVm and audits grow it); refresh if so. */
  private views(): void {
    this.checkLive();
    if (this.buffer !== this.raw.memory.buffer) this.refreshViews();
  }

  private stagingPage(index: number): Uint8Array {
    this.views();
    return this.staging.subarray(index * PAGE_BYTES, (index + 1) * PAGE_BYTES);
  }

  private setRecord(index: number, op: OpCode, vm: number, gpn: number, argLow: number, argHigh: number): void {
    this.views();
    const base = index * RECORD_WORDS;
    this.commands[base] = ((op << 24) | vm) >>> 0;
    this.commands[base + 1] = gpn >>> 0;
    this.commands[base + 2] = argLow >>> 0;
    this.commands[base + 3] = argHigh >>> 0;
  }

  private recordAt(index: number): { op: number; vm: number; gpn: number; argLow: number; argHigh: number } {
    const base = index * RECORD_WORDS;
    const head = this.commands[base] ?? 0;
    return {
      op: head >>> 24,
      vm: head & 0xffffff,
      gpn: this.commands[base + 1] ?? 0,
      argLow: this.commands[base + 2] ?? 0,
      argHigh: this.commands[base + 3] ?? 0,
    };
  }

  /** Swaps one page in through the reserved record and staging page. Returns its status. */
  private swapInPage(vm: number, gpn: number, slot: number): number {
    const record = this.vmRecord(vm);
    record.swap.read(slot, this.stagingPage(this.reservedStagingPage));
    this.setRecord(this.reservedRecord, Op.swapIn, vm, gpn, this.reservedStagingPage, 0);
    this.raw.runBatch(this.reservedRecord, this.reservedRecord + 1);
    this.views();
    const status = this.results[this.reservedRecord] ?? Status.badArgument;
    if (status === Status.ok) record.swap.release(slot);
    return status;
  }

  /**
   * The command region as u32 words, 4 per record: (op << 24 | vm), gpn, argument low, argument
   * high. For callers that stream many operations (trace replay): fill records [0, n) with
   * n <= commandRecords, then call runCommands(n). Valid until the next call that grows memory.
   */
  commandWords(): Uint32Array {
    this.views();
    return this.commands;
  }

  /** How many command records a caller may fill (one is kept for swap-ins). */
  get commandRecords(): number {
    return this.recordCapacity - 1;
  }

  /** The status of command record `index` after runCommands. */
  commandStatus(index: number): number {
    this.views();
    return this.results[index] ?? Status.badArgument;
  }

  /**
   * Runs records [from, count), handling what the core cannot do itself: swap-ins (then the record is
   * retried) and peeks of swapped pages (read straight from the file). Stops on a policy matter.
   */
  runCommands(count: number, from = 0): { done: number; stop: StopReason } {
    let next = from;
    while (next < count) {
      const stoppedAt = this.raw.runBatch(next, count);
      if (stoppedAt >= count) break;
      const status = this.raw.lastBatchStatus();
      this.views();
      const record = this.recordAt(stoppedAt);
      if (status === Status.needSwapIn) {
        const slot = this.aux[stoppedAt] ?? 0;
        if (record.op === Op.peek) {
          const page = this.stagingPage(record.argLow);
          this.vmRecord(record.vm).swap.read(slot, page);
          if (this.content === "fingerprints") {
            // The swap holds the fingerprint: the page reads back as its content.
            const fingerprint = new DataView(page.buffer, page.byteOffset, 8).getBigUint64(0, true);
            this.raw.fillFromSeed((this.raw.stagingRegion() >>> 0) + record.argLow * PAGE_BYTES, fingerprint);
          }
          this.results[stoppedAt] = Status.ok;
          next = stoppedAt + 1;
          continue;
        }
        const swapStatus = this.swapInPage(record.vm, record.gpn, slot);
        if (swapStatus === Status.noFrames) return { done: stoppedAt, stop: "noFrames" };
        if (swapStatus !== Status.ok) {
          throw new OvercommitError("CORE_FAILURE", `swap-in of vm ${record.vm} page ${record.gpn} failed: ${STATUS_NAMES[swapStatus]}`);
        }
        next = stoppedAt;
        continue;
      }
      if (status === Status.noFrames) return { done: stoppedAt, stop: "noFrames" };
      if (status === Status.ballooned) return { done: stoppedAt, stop: "ballooned" };
      if (status === Status.badArgument) {
        throw new InvalidArgumentError(`operation ${record.op} on vm ${record.vm} page ${record.gpn}: the core rejected its arguments`);
      }
      throw new OvercommitError("CORE_FAILURE", `operation ${record.op} on vm ${record.vm} page ${record.gpn}: ${STATUS_NAMES[status] ?? status}`);
    }
    return { done: count, stop: "none" };
  }

  private runSingle(vm: number, gpn: number, what: string): void {
    const outcome = this.runCommands(1);
    if (outcome.stop === "noFrames") {
      throw new OutOfFramesError(`${what} of vm ${vm} page ${gpn}: machine memory is exhausted (all ${this.frames} frames in use)`);
    }
    if (outcome.stop === "ballooned") {
      throw new OvercommitError("BALLOONED_PAGE", `${what} of vm ${vm} page ${gpn}: the page is held by the balloon driver`);
    }
  }

  private copyStatuses(into: Uint8Array, start: number, count: number): void {
    this.views();
    for (let k = 0; k < count; k++) into[start + k] = this.results[k] ?? 0;
  }

  private perPage(
    op: OpCode,
    vm: number,
    gpns: ArrayLike<number>,
    args?: { low: ArrayLike<number>; high: ArrayLike<number> },
    onResult?: (i: number, status: number, aux: number) => void,
  ): PageOpResult {
    this.checkPages(vm, gpns);
    const statuses = new Uint8Array(gpns.length);
    const chunk = this.recordCapacity - 1;
    for (let start = 0; start < gpns.length; start += chunk) {
      const count = Math.min(chunk, gpns.length - start);
      this.views();
      const commands = this.commands;
      const head = ((op << 24) | vm) >>> 0;
      for (let k = 0; k < count; k++) {
        const base = k * RECORD_WORDS;
        commands[base] = head;
        commands[base + 1] = gpns[start + k] ?? 0;
        commands[base + 2] = args ? (args.low[start + k] ?? 0) : 0;
        commands[base + 3] = args ? (args.high[start + k] ?? 0) : 0;
      }
      const outcome = this.runCommands(count);
      this.views();
      for (let k = 0; k < outcome.done; k++) {
        const status = this.results[k] ?? 0;
        statuses[start + k] = status;
        onResult?.(start + k, status, this.aux[k] ?? 0);
      }
      if (outcome.stop !== "none") return { statuses, completed: start + outcome.done, stop: outcome.stop };
    }
    return { statuses, completed: gpns.length, stop: "none" };
  }

  /** After a failed swap-file write: put this chunk's staged pages back into memory, then rethrow. */
  private restoreFromStaging(vm: number, gpns: ArrayLike<number>, start: number, from: number, count: number, slots: number[]): void {
    const record = this.vmRecord(vm);
    for (let k = from; k < count; k++) {
      if (this.results[k] !== Status.ok) continue;
      this.setRecord(this.reservedRecord, Op.swapIn, vm, gpns[start + k] ?? 0, k, 0);
      this.raw.runBatch(this.reservedRecord, this.reservedRecord + 1);
      record.swap.release(slots[k] ?? 0);
    }
  }
}

export { Status, PAGE_BYTES, PAGE_SHIFT };
