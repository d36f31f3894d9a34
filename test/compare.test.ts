// The page compare kernels (assembly/compare.ts): pagesEqual, pageIsZero and their batch forms,
// against Buffer.equals, at every byte position, on 4096-aligned pointers (as the core calls them)
// and on unaligned ones.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { loadCore, type CoreInstance } from "../src/core/wasm.ts";
import { xorshift32, randomBytes } from "./helpers/random.ts";

const PAGE = 4096;
/** Offsets around vector (16), step (128), block (1024) boundaries and the page end. */
const EDGE_OFFSETS: readonly number[] = [
  0, 1, 15, 16, 17, 31, 32, 63, 64, 112, 127, 128, 129, 255, 256, 1023, 1024, 1025, 2047, 2048, 3968, 3969, 4031, 4032,
  4079, 4080, 4094, 4095,
];
/** Unaligned starts for the "any alignment" cases. */
const MISALIGNMENTS: readonly number[] = [1, 3, 8, 15, 16, 100];

let core: CoreInstance;
/** 4096-aligned scratch: page A at scratch, page B at scratch + B_OFFSET, batches after that. */
let scratch = 0;
const SCRATCH_BYTES = 2 << 20;
const B_OFFSET = 2 * PAGE;
const BATCH_OFFSET = 4 * PAGE;

const equal = (a: number, b: number): boolean => core.exports.pagesEqual(a, b) !== 0;
const isZero = (p: number): boolean => core.exports.pageIsZero(p) !== 0;

beforeAll(() => {
  core = loadCore();
  scratch = core.exports.scratchReserve(SCRATCH_BYTES) >>> 0;
  expect(scratch).not.toBe(0);
  expect(scratch % PAGE).toBe(0);
});

/** Puts `a` and `b` at two 4096-aligned pages (plus `misalign` bytes) and returns their addresses. */
function putPair(a: Uint8Array, b: Uint8Array, misalign = 0): [number, number] {
  const mem = core.bytes();
  const pa = scratch + misalign;
  const pb = scratch + B_OFFSET + misalign;
  mem.set(a, pa);
  mem.set(b, pb);
  return [pa, pb];
}

describe("pagesEqual", () => {
  it("is true for equal pages: random, zero, 0xFF, a page with itself", () => {
    for (let seed = 1; seed <= 64; seed++) {
      const page = randomBytes(PAGE, seed);
      const [a, b] = putPair(page, page.slice());
      expect(equal(a, b)).toBe(true);
      expect(equal(b, a)).toBe(true);
      expect(equal(a, a)).toBe(true);
    }
    const zero = new Uint8Array(PAGE);
    expect(equal(...putPair(zero, zero))).toBe(true);
    const ones = new Uint8Array(PAGE).fill(0xff);
    expect(equal(...putPair(ones, ones))).toBe(true);
  });

  it("is false for a one-bit difference at every byte position 0..4095 (both orders)", () => {
    const page = randomBytes(PAGE, 0xc0);
    const [a, b] = putPair(page, page);
    const mem = core.bytes();
    for (let pos = 0; pos < PAGE; pos++) {
      const bit = 1 << (pos & 7);
      mem[b + pos] = (page[pos] ?? 0) ^ bit;
      expect(equal(a, b), `pos ${pos}`).toBe(false);
      expect(equal(b, a), `pos ${pos}`).toBe(false);
      mem[b + pos] = page[pos] ?? 0;
    }
    expect(equal(a, b)).toBe(true);
  });

  it("is false for every bit and for 0x00 <-> 0xFF at edge offsets", () => {
    const zero = new Uint8Array(PAGE);
    for (const pos of EDGE_OFFSETS) {
      for (const value of [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff]) {
        const other = zero.slice();
        other[pos] = value;
        expect(equal(...putPair(zero, other)), `pos ${pos} value ${value}`).toBe(false);
      }
    }
  });

  it("gives the same answers on unaligned pointers", () => {
    const page = randomBytes(PAGE, 0xa1);
    for (const misalign of MISALIGNMENTS) {
      expect(equal(...putPair(page, page, misalign)), `misalign ${misalign}`).toBe(true);
      for (let pos = 0; pos < PAGE; pos += 61) {
        const other = page.slice();
        other[pos] = (other[pos] ?? 0) ^ 0x10;
        expect(equal(...putPair(page, other, misalign)), `misalign ${misalign} pos ${pos}`).toBe(false);
      }
      for (const pos of EDGE_OFFSETS) {
        const other = page.slice();
        other[pos] = (other[pos] ?? 0) ^ 0x80;
        expect(equal(...putPair(page, other, misalign)), `misalign ${misalign} pos ${pos}`).toBe(false);
      }
    }
  });

  it("property: agrees with Buffer.equals on pages with random edits (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: PAGE - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.constantFrom(0, 0, 0, 1, 7, 16),
        (seed, edits, misalign) => {
          const a = randomBytes(PAGE, seed);
          const b = a.slice();
          for (const [pos, value] of edits) b[pos] = value;
          const expected = Buffer.from(a.buffer, a.byteOffset, PAGE).equals(Buffer.from(b.buffer, b.byteOffset, PAGE));
          return equal(...putPair(a, b, misalign)) === expected;
        },
      ),
      { seed: 0xc0de, numRuns: 1000 },
    );
  });
});

describe("pageIsZero", () => {
  it("is true for the zero page and false for the 0xFF page", () => {
    const [a] = putPair(new Uint8Array(PAGE), new Uint8Array(PAGE));
    expect(isZero(a)).toBe(true);
    const [ones] = putPair(new Uint8Array(PAGE).fill(0xff), new Uint8Array(PAGE));
    expect(isZero(ones)).toBe(false);
  });

  it("is false for a single nonzero byte at every position 0..4095", () => {
    const [p] = putPair(new Uint8Array(PAGE), new Uint8Array(PAGE));
    const mem = core.bytes();
    for (let pos = 0; pos < PAGE; pos++) {
      mem[p + pos] = 1 << (pos & 7);
      expect(isZero(p), `pos ${pos}`).toBe(false);
      mem[p + pos] = 0;
    }
    expect(isZero(p)).toBe(true);
  });

  it("is false for each nonzero byte value at edge offsets, and ignores bytes outside the page", () => {
    const mem = core.bytes();
    const [p] = putPair(new Uint8Array(PAGE), new Uint8Array(PAGE));
    for (const pos of EDGE_OFFSETS) {
      for (let value = 1; value < 256; value++) {
        mem[p + pos] = value;
        expect(isZero(p), `pos ${pos} value ${value}`).toBe(false);
      }
      mem[p + pos] = 0;
    }
    mem[p + PAGE] = 0xff; // the byte just after the page
    expect(isZero(p)).toBe(true);
    mem[p + PAGE] = 0;
  });

  it("gives the same answers on unaligned pointers", () => {
    const mem = core.bytes();
    for (const misalign of MISALIGNMENTS) {
      mem.fill(0, scratch, scratch + 2 * PAGE);
      const p = scratch + misalign;
      expect(isZero(p), `misalign ${misalign}`).toBe(true);
      for (let pos = 0; pos < PAGE; pos += 53) {
        mem[p + pos] = 0x40;
        expect(isZero(p), `misalign ${misalign} pos ${pos}`).toBe(false);
        mem[p + pos] = 0;
      }
      for (const pos of EDGE_OFFSETS) {
        mem[p + pos] = 0x80;
        expect(isZero(p), `misalign ${misalign} pos ${pos}`).toBe(false);
        mem[p + pos] = 0;
      }
    }
  });
});

describe("batch helpers", () => {
  it("comparePagesBatch counts the equal pairs, zeroPagesBatch the zero pages", () => {
    const count = 64;
    const next = xorshift32(0xba7c4);
    const a = randomBytes(count * PAGE, 0xba7c);
    const b = a.slice();
    let expectedEqual = count;
    for (let i = 0; i < count; i++) {
      if (i % 3 === 1) {
        const pos = i * PAGE + (next() % PAGE);
        b[pos] = (b[pos] ?? 0) ^ 0x01;
        expectedEqual--;
      }
    }
    const zeros = new Uint8Array(count * PAGE);
    let expectedZero = count;
    for (let i = 0; i < count; i++) {
      if (i % 4 === 2) {
        zeros[i * PAGE + (next() % PAGE)] = 1 + (next() % 255);
        expectedZero--;
      }
    }
    const mem = core.bytes();
    const pa = scratch + BATCH_OFFSET;
    const pb = pa + count * PAGE;
    const pz = pb + count * PAGE;
    mem.set(a, pa);
    mem.set(b, pb);
    mem.set(zeros, pz);
    expect(core.exports.comparePagesBatch(pa, pb, count)).toBe(expectedEqual);
    expect(core.exports.comparePagesBatch(pa, pa, count)).toBe(count);
    expect(core.exports.comparePagesBatch(pa, pb, 0)).toBe(0);
    expect(core.exports.zeroPagesBatch(pz, count)).toBe(expectedZero);
    expect(core.exports.zeroPagesBatch(pa, count)).toBe(0);
    for (let i = 0; i < count; i++) {
      expect(equal(pa + i * PAGE, pb + i * PAGE)).toBe(i % 3 !== 1);
      expect(isZero(pz + i * PAGE)).toBe(i % 4 !== 2);
    }
  });
});
