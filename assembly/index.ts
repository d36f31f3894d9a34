// The WASM core's exported ABI. Everything the TypeScript side may call is re-exported here.
export { scratchReserve } from "./alloc";
export * from "./hash";
export * from "./compare";
export * from "./lz4";
