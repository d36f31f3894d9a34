// The WASM core's bytes, inlined into the packaged bundle by esbuild's binary loader.
import bytes from "../../build/core.wasm";

export function wasmBinary(): Uint8Array {
  return bytes;
}
