// The one place that loads and instantiates build/core.wasm and owns views of its memory.
// Everything else reaches the core through `Machine` (src/core/machine.ts) or, in tests and
// benchmarks of raw kernels (hash, compare, LZ4), through `loadCore().exports`.
import { preferOptimizingCompiler, wasmBinary } from "./platform.ts";

/** The raw exports of build/core.wasm. Pointers are wasm32 addresses: read them with `>>> 0`. */
export interface CoreExports {
  readonly memory: WebAssembly.Memory;
  scratchReserve(bytes: number): number;
  xxh64(ptr: number, len: number, seed: bigint): bigint;
  xxh3Page(ptr: number): bigint;
  /** u64 results come back as signed BigInts: read them with BigInt.asUintN(64, x). */
  xxh64Page(ptr: number, seed: bigint): bigint;
  /** Hash `count` consecutive 4096-byte pages from `ptr`, writing one u64 per page at `out`. */
  xxh3Pages(ptr: number, count: number, out: number): void;
  xxh64Pages(ptr: number, count: number, seed: bigint, out: number): void;
  pagesEqual(a: number, b: number): number;
  pageIsZero(p: number): number;
  /** How many of the `count` page pairs (a + 4096 i, b + 4096 i) are equal. */
  comparePagesBatch(a: number, b: number, count: number): number;
  /** How many of the `count` consecutive pages from `p` are all zero. */
  zeroPagesBatch(p: number, count: number): number;
  lz4CompressBlock(src: number, srcLen: number, dst: number, dstCap: number): number;
  lz4DecompressBlock(src: number, srcLen: number, dst: number, dstCap: number): number;
  lz4CompressPages(src: number, count: number, dst: number, dstStride: number, dstCap: number, sizesOut: number): void;
  lz4DecompressPages(src: number, count: number, srcStride: number, sizesIn: number, dst: number, resultsOut: number): void;
  /** lz4DecompressBlock error codes (i32 globals) and the largest input either side accepts. */
  readonly LZ4_MAX_INPUT_SIZE: WebAssembly.Global;
  readonly LZ4_ERROR_BAD_ARGUMENT: WebAssembly.Global;
  readonly LZ4_ERROR_TRUNCATED: WebAssembly.Global;
  readonly LZ4_ERROR_LITERALS_PAST_INPUT: WebAssembly.Global;
  readonly LZ4_ERROR_OUTPUT_OVERFLOW: WebAssembly.Global;
  readonly LZ4_ERROR_OFFSET_ZERO: WebAssembly.Global;
  readonly LZ4_ERROR_OFFSET_BEFORE_OUTPUT: WebAssembly.Global;
  readonly LZ4_ERROR_LENGTH_OVERFLOW: WebAssembly.Global;
  [name: string]: unknown;
}

export interface CoreInstance {
  readonly exports: CoreExports;
  /** A fresh Uint8Array over the whole memory (views go stale when the memory grows). */
  bytes(): Uint8Array;
}

let cachedModule: WebAssembly.Module | undefined;

function loadModule(): WebAssembly.Module {
  if (cachedModule) return cachedModule;
  preferOptimizingCompiler();
  cachedModule = new WebAssembly.Module(wasmBinary() as Uint8Array<ArrayBuffer>);
  return cachedModule;
}

/** Reads an AssemblyScript string (UTF-16, byte length at ptr - 4) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "";
  const start = ptr >>> 0;
  const byteLength = new Uint32Array(memory.buffer, start - 4, 1)[0] ?? 0;
  return String.fromCharCode(...new Uint16Array(memory.buffer, start, byteLength >>> 1));
}

/** Instantiates a new, independent core (its own linear memory). */
export function loadCore(): CoreInstance {
  let memoryRef: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      abort(messagePtr: number, filePtr: number, line: number, column: number): never {
        const memory = memoryRef;
        const message = memory ? readAsString(memory, messagePtr) : "";
        const file = memory ? readAsString(memory, filePtr) : "";
        throw new Error(`WASM core aborted: ${message} at ${file}:${line}:${column}`);
      },
    },
  };
  const instance = new WebAssembly.Instance(loadModule(), imports);
  const exports = instance.exports as unknown as CoreExports;
  memoryRef = exports.memory;
  return {
    exports,
    bytes: () => new Uint8Array(exports.memory.buffer),
  };
}
