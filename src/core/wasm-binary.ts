// The WASM core's bytes, read from build/core.wasm (development and tests), or from the file named
// by OVERCOMMIT_CORE_WASM (e.g. build/core.debug.wasm, with assertions and names, when debugging).
// The packaged build replaces this module with wasm-binary.inline.ts, which inlines the bytes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const WASM_URL = new URL("../../build/core.wasm", import.meta.url);

export function wasmBinary(): Uint8Array {
  const path = process.env.OVERCOMMIT_CORE_WASM || fileURLToPath(WASM_URL);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw new Error(`cannot read the WASM core at ${path}: run \`npm run build\` first`, { cause });
  }
}
