// The hash kernels (assembly/hash.ts) against two independent XXH64 / XXH3 builds:
// xxhash-wasm (h64Raw, XXH64) and @node-rs/xxhash (xxh64, and xxh3.xxh64 for XXH3-64 seed 0).
import { xxh3, xxh64 as nodeRsXxh64 } from "@node-rs/xxhash";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import xxhash, { type XXHashAPI } from "xxhash-wasm";
import { loadCore, type CoreInstance } from "../src/core/wasm.ts";
import { randomBytes } from "./helpers/random.ts";

const PAGE = 4096;
const U64_MAX = (1n << 64n) - 1n;
/** Seeds for XXH64, unsigned: 0, small, a 32-bit prime, 2^63, 2^64-1 and arbitrary 64-bit values. */
const SEEDS: readonly bigint[] = [0n, 1n, 0x9e3779b1n, 1n << 63n, U64_MAX, 0x0123456789abcdefn, 0xfedcba9876543210n];
/** Byte offsets inside a page around stripe (64), block (1024) and last-stripe (4032) boundaries. */
const BOUNDARY_OFFSETS: readonly number[] = [
  0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 65, 127, 128, 511, 512, 1000, 1023, 1024, 1025, 2047, 2048, 2049, 3071, 3072, 3073,
  3839, 3840, 3968, 3969, 4000,
  ...Array.from({ length: 4096 - 4031 }, (_, i) => 4031 + i), // 4031..4095: the overlapped last stripe
];

/** The u64 a wasm export returned (a signed BigInt) as unsigned. */
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);

/** xorshift32, seeded: every random input in this file comes from one of these. */
let core: CoreInstance;
let wasmXxh: XXHashAPI;
/** 4096-aligned scratch in the core's memory, reserved once. */
let scratch = 0;
const SCRATCH_BYTES = 4 << 20;

/** Copies `data` into the core's memory at scratch + offset and returns its address. */
function put(data: Uint8Array, offset = 0): number {
  if (offset + data.length > SCRATCH_BYTES) throw new Error("scratch too small");
  core.bytes().set(data, scratch + offset);
  return scratch + offset;
}

beforeAll(async () => {
  core = loadCore();
  wasmXxh = await xxhash();
  scratch = core.exports.scratchReserve(SCRATCH_BYTES) >>> 0;
  expect(scratch).not.toBe(0);
  expect(scratch % PAGE).toBe(0);
});

describe("xxh3Page (XXH3-64, seed 0, 4096 bytes)", () => {
  it("matches @node-rs/xxhash xxh3.xxh64 on 2048 seeded random pages, single and batched", () => {
    const count = 512;
    for (let round = 0; round < 4; round++) {
      const data = randomBytes(count * PAGE, 0x1000 + round);
      const ptr = put(data);
      const out = scratch + count * PAGE;
      core.exports.xxh3Pages(ptr, count, out);
      const batch = new BigUint64Array(core.exports.memory.buffer, out, count).slice();
      for (let i = 0; i < count; i++) {
        const page = data.subarray(i * PAGE, (i + 1) * PAGE);
        const expected = xxh3.xxh64(page);
        expect(u64(core.exports.xxh3Page(ptr + i * PAGE))).toBe(expected);
        expect(batch[i]).toBe(expected);
      }
    }
  });

  it("matches on uniform pages: every fill byte 0x00..0xff (all-zero and all-0xFF included)", () => {
    const page = new Uint8Array(PAGE);
    for (let fill = 0; fill < 256; fill++) {
      page.fill(fill);
      expect(u64(core.exports.xxh3Page(put(page))), `fill ${fill}`).toBe(xxh3.xxh64(page));
    }
  });

  it("matches on near-identical pages: one bit flipped at boundary offsets and every 7th byte, all 8 bits", () => {
    const base = randomBytes(PAGE, 0xb17f11b);
    const baseHash = xxh3.xxh64(base);
    expect(u64(core.exports.xxh3Page(put(base)))).toBe(baseHash);
    const offsets = new Set<number>(BOUNDARY_OFFSETS);
    for (let o = 0; o < PAGE; o += 7) offsets.add(o);
    const seen = new Set<bigint>([baseHash]);
    let flips = 0;
    for (const offset of offsets) {
      for (let bit = 0; bit < 8; bit++) {
        const page = base.slice();
        page[offset] = (page[offset] ?? 0) ^ (1 << bit);
        const ours = u64(core.exports.xxh3Page(put(page)));
        expect(ours, `offset ${offset} bit ${bit}`).toBe(xxh3.xxh64(page));
        seen.add(ours);
        flips++;
      }
    }
    expect(flips).toBeGreaterThan(4000);
    expect(seen.size).toBe(flips + 1); // every single-bit neighbour hashes differently
  });

  it("matches on a zero page with a single nonzero byte at boundary offsets", () => {
    for (const offset of BOUNDARY_OFFSETS) {
      for (const value of [0x01, 0x80, 0xff]) {
        const page = new Uint8Array(PAGE);
        page[offset] = value;
        expect(u64(core.exports.xxh3Page(put(page))), `offset ${offset} value ${value}`).toBe(xxh3.xxh64(page));
      }
    }
  });

  it("does not depend on alignment beyond reading the same bytes (unaligned pointers)", () => {
    const page = randomBytes(PAGE, 0xa119);
    const expected = xxh3.xxh64(page);
    for (const misalign of [1, 3, 8, 15, 16, 63, 64, 1000]) {
      expect(u64(core.exports.xxh3Page(put(page, misalign))), `misalign ${misalign}`).toBe(expected);
    }
  });

  it("property: random page with up to 3 random bit flips matches the oracle (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.array(fc.integer({ min: 0, max: PAGE * 8 - 1 }), { maxLength: 3 }),
        (seed, bits) => {
          const page = randomBytes(PAGE, seed);
          for (const bit of bits) page[bit >>> 3] = (page[bit >>> 3] ?? 0) ^ (1 << (bit & 7));
          return u64(core.exports.xxh3Page(put(page))) === xxh3.xxh64(page);
        },
      ),
      { seed: 0x5eed, numRuns: 500 },
    );
  });
});

describe("xxh64 (XXH64, any length)", () => {
  it("matches xxhash-wasm h64Raw and @node-rs/xxhash xxh64 at every length 0..300, 7 seeds, 4 alignments", () => {
    const data = randomBytes(512, 0x64);
    let checked = 0;
    for (const misalign of [0, 1, 5, 8]) {
      const ptr = put(data, misalign);
      for (let len = 0; len <= 300; len++) {
        const input = data.subarray(0, len);
        for (const seed of SEEDS) {
          const ours = u64(core.exports.xxh64(ptr, len, seed));
          expect(ours, `len ${len} seed ${seed} misalign ${misalign}`).toBe(wasmXxh.h64Raw(input, seed));
          expect(ours).toBe(nodeRsXxh64(input, seed));
          checked++;
        }
      }
    }
    expect(checked).toBe(4 * 301 * SEEDS.length);
  });

  it("matches at odd large lengths", () => {
    const data = randomBytes(1_200_000, 0x1a26e);
    const ptr = put(data);
    for (const len of [4095, 4096, 4097, 12_345, 65_535, 65_537, 1_000_003, 1_200_000]) {
      const input = data.subarray(0, len);
      for (const seed of [0n, U64_MAX, 0x2545f4914f6cdd1dn]) {
        const ours = u64(core.exports.xxh64(ptr, len, seed));
        expect(ours, `len ${len} seed ${seed}`).toBe(wasmXxh.h64Raw(input, seed));
        expect(ours).toBe(nodeRsXxh64(input, seed));
      }
    }
  });

  it("matches the published XXH64 test vectors of the empty input", () => {
    expect(u64(core.exports.xxh64(scratch, 0, 0n))).toBe(0xef46db3751d8e999n);
    expect(u64(core.exports.xxh64(scratch, 0, 0n))).toBe(wasmXxh.h64Raw(new Uint8Array(0), 0n));
  });
});

describe("xxh64Page / xxh64Pages (XXH64 of 4096 bytes)", () => {
  it("matches both oracles and the generic xxh64 on 2048 seeded random pages, all seeds", () => {
    const count = 512;
    for (let round = 0; round < 4; round++) {
      const data = randomBytes(count * PAGE, 0x2000 + round);
      const ptr = put(data);
      const out = scratch + count * PAGE;
      const seed = SEEDS[(round * 2) % SEEDS.length] ?? 0n;
      core.exports.xxh64Pages(ptr, count, seed, out);
      const batch = new BigUint64Array(core.exports.memory.buffer, out, count).slice();
      for (let i = 0; i < count; i++) {
        const page = data.subarray(i * PAGE, (i + 1) * PAGE);
        const expected = nodeRsXxh64(page, seed);
        expect(batch[i], `round ${round} page ${i}`).toBe(expected);
        expect(u64(core.exports.xxh64Page(ptr + i * PAGE, seed))).toBe(expected);
        expect(u64(core.exports.xxh64(ptr + i * PAGE, PAGE, seed))).toBe(expected);
        if (i % 8 === 0) expect(wasmXxh.h64Raw(page, seed)).toBe(expected);
      }
    }
  });

  it("matches on all-zero, all-0xFF and single-bit-flip pages with every seed", () => {
    const zero = new Uint8Array(PAGE);
    const ones = new Uint8Array(PAGE).fill(0xff);
    const base = randomBytes(PAGE, 0xf11b);
    const pages: Uint8Array[] = [zero, ones];
    for (const offset of BOUNDARY_OFFSETS) {
      const page = base.slice();
      page[offset] = (page[offset] ?? 0) ^ (1 << (offset & 7));
      pages.push(page);
    }
    for (const page of pages) {
      const ptr = put(page);
      for (const seed of SEEDS) {
        const ours = u64(core.exports.xxh64Page(ptr, seed));
        expect(ours).toBe(wasmXxh.h64Raw(page, seed));
        expect(ours).toBe(nodeRsXxh64(page, seed));
      }
    }
  });

  it("property: random page, random bit flip, random 64-bit seed matches xxhash-wasm (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.integer({ min: 0, max: PAGE * 8 - 1 }),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        (seed, bit, hashSeed) => {
          const page = randomBytes(PAGE, seed);
          page[bit >>> 3] = (page[bit >>> 3] ?? 0) ^ (1 << (bit & 7));
          return u64(core.exports.xxh64Page(put(page), hashSeed)) === wasmXxh.h64Raw(page, hashSeed);
        },
      ),
      { seed: 0x64eed, numRuns: 300 },
    );
  });
});
