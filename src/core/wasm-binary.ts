// The WASM core's bytes, read from build/core.wasm (development and tests). The packaged build
// replaces this module with wasm-binary.inline.ts, which carries the bytes inside the bundle.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const WASM_URL = new URL("../../build/core.wasm", import.meta.url);

export function wasmBinary(): Uint8Array {
  try {
    return new Uint8Array(readFileSync(fileURLToPath(WASM_URL)));
  } catch (cause) {
    throw new Error(`cannot read the WASM core at ${fileURLToPath(WASM_URL)}: run \`npm run build\` first`, { cause });
  }
}
