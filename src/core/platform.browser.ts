// The platform for browser builds: the WASM bytes are inlined, swapped pages stay in memory, and
// there are no files (loading memory images from paths, swap files and worker threads are
// Node-only; a browser caller loads image bytes itself and uses Machine.loadPages).
import { MemorySwap } from "./swap-memory.ts";
import type { SwapStore } from "./swap-store.ts";
import { OvercommitError } from "./errors.ts";
export { wasmBinary } from "./wasm-binary.inline.ts";

export const PLATFORM = "browser" as const;

export function preferOptimizingCompiler(): void {}

export function createSwapDirectory(): string {
  return "memory";
}

export function removeDirectory(): void {}

export function createSwapStore(_kind: "file" | "memory", _directory: string, name: string, slots: number): SwapStore {
  return new MemorySwap(name, slots);
}

export interface ReadableFile {
  readonly size: number;
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export async function openReadableFile(path: string): Promise<ReadableFile> {
  throw new OvercommitError("INVALID_ARGUMENT", `${path}: reading files is Node-only; in a browser, pass the image's bytes to Machine.loadPages`);
}
