// What the core needs from its platform, for Node: the WASM binary, swap files in a temporary
// directory, reading files, and V8's compiler settings. A browser build replaces this module with
// platform.browser.ts (memory swap, no files); the packaged build inlines the WASM binary.
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { SwapFile } from "./swap-file.ts";
import { MemorySwap } from "./swap-memory.ts";
import type { SwapStore } from "./swap-store.ts";
export { wasmBinary } from "./wasm-binary.ts";

export const PLATFORM = "node" as const;

/**
 * V8 first compiles wasm with its baseline tier (Liftoff) and has no on-stack replacement for
 * wasm: a long scan loop that starts in baseline code stays there (measured 2-3x slower). The core
 * is small, so it is compiled straight with the optimizing tier. Compilation is lazy (on first
 * call), so the flag stays set for the process.
 */
export function preferOptimizingCompiler(): void {
  setFlagsFromString("--no-liftoff");
}

export function createSwapDirectory(): string {
  return mkdtempSync(join(tmpdir(), "overcommit-swap-"));
}

export function removeDirectory(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export function createSwapStore(kind: "file" | "memory", directory: string, name: string, slots: number): SwapStore {
  return kind === "memory" ? new MemorySwap(name, slots) : new SwapFile(join(directory, `${name}.vswp`), slots);
}

export interface ReadableFile {
  readonly size: number;
  read(into: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

export async function openReadableFile(path: string): Promise<ReadableFile> {
  const file = await open(path, "r");
  const { size } = await file.stat();
  return {
    size,
    read: async (into, offset, length, position) => (await file.read(into, offset, length, position)).bytesRead,
    close: () => file.close(),
  };
}
