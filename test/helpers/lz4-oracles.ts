// The two independent LZ4 implementations our codec is checked and measured against: lz4-napi
// (lz4_flex in Rust, typed by its package) and lz4js (plain JavaScript, untyped: the two block
// functions we call are typed here). Shared by test/lz4.test.ts and bench/lz4.bench.ts.
import { createRequire } from "node:module";
import * as lz4Napi from "lz4-napi";

export { lz4Napi };

interface Lz4Js {
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}

export const lz4js = createRequire(import.meta.url)("lz4js") as Lz4Js;
