// The core's content-seed fill (assembly/content.ts, v128 lanes) against the scalar BigInt oracle
// in test/oracles/content-seed.ts, written from the documented definition. Written through
// Machine.writeSeed / writeSeeds and read back through Machine.readPage, so the whole path
// (command record with the seed split into two u32 words, the fill, the peek) is covered.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Machine } from "../src/core/machine.ts";
import { contentOfSeed, randomWordsOf, seedClass, splitMix64Outputs } from "./oracles/content-seed.ts";

const U64_MAX = (1n << 64n) - 1n;
const PAGES = 64;

/** A seed of compressibility class `cls` (top two bits) with the given low 62 bits. */
const withClass = (cls: number, low: bigint): bigint => (BigInt(cls) << 62n) | (low & ((1n << 62n) - 1n));

/** Index of the first differing byte, or -1: keeps failure messages short (no 4 KiB dumps). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function hex(seed: bigint): string {
  return `0x${BigInt.asUintN(64, seed).toString(16)}`;
}

let machine: Machine;

beforeAll(() => {
  machine = Machine.create({ frames: 96 });
  machine.addVm({ pages: PAGES });
});

afterAll(() => {
  machine.dispose();
});

/** Writes `seed` into (0, gpn) through the core and reads the page back. */
function coreContent(seed: bigint, gpn = 0): Uint8Array {
  machine.writeSeed(0, gpn, seed);
  return machine.readPage(0, gpn);
}

function expectMatchesOracle(seed: bigint, gpn = 0): void {
  const core = coreContent(seed, gpn);
  const oracle = contentOfSeed(seed);
  const at = firstDifference(core, oracle);
  expect(at, `seed ${hex(seed)}: core and oracle differ first at byte ${at}`).toBe(-1);
}

describe("oracle self-checks", () => {
  it("SplitMix64 from 0 gives the published first outputs", () => {
    // Vigna's splitmix64.c with x = 0 (the same values as Java's SplittableRandom(0) mix).
    expect(splitMix64Outputs(0n, 4)).toEqual([
      0xe220a8397b1dcdafn, 0x6e789e6aa1b965f4n, 0x06c45d188009454fn, 0xf88bb8a8724c81ecn,
    ]);
  });

  it("zero page for seed 0, random prefix then zeros for each class", () => {
    expect(contentOfSeed(0n).every((b) => b === 0)).toBe(true);
    expect(contentOfSeed(1n << 64n).every((b) => b === 0)).toBe(true); // taken modulo 2^64
    for (const [cls, words] of [[0, 512], [1, 128], [2, 32], [3, 8]] as const) {
      const seed = withClass(cls, 0x1234_5678_9abcn);
      expect(seedClass(seed)).toBe(cls);
      expect(randomWordsOf(seed)).toBe(words);
      const page = contentOfSeed(seed);
      expect(page.subarray(words * 8).every((b) => b === 0), `class ${cls}: zeros after word ${words}`).toBe(true);
      // The last random word is (almost surely) not zero; 8 zero bytes would be a 2^-64 event.
      expect(page.subarray(words * 8 - 8, words * 8).some((b) => b !== 0)).toBe(true);
    }
  });
});

describe("core fill equals the oracle", () => {
  it("seed 0 gives the zero page, even over earlier content", () => {
    machine.writeSeed(0, 1, 0x0123_4567_89ab_cdefn);
    const page = coreContent(0n, 1);
    expect(page.every((b) => b === 0)).toBe(true);
    expectMatchesOracle(0n, 1);
  });

  it("seed 1 and seed 2^64-1", () => {
    expectMatchesOracle(1n);
    expectMatchesOracle(U64_MAX);
    expect(seedClass(U64_MAX)).toBe(3);
  });

  it("seeds whose two u32 halves matter (the record carries the seed in two words)", () => {
    for (const seed of [0xffff_ffffn, 1n << 32n, (1n << 32n) + 1n, 0x8000_0000n, 1n << 63n, (1n << 62n) - 1n]) {
      expectMatchesOracle(seed);
    }
  });

  it("negative seeds are taken modulo 2^64, like the oracle", () => {
    expectMatchesOracle(-1n);
    expect(firstDifference(coreContent(-1n), contentOfSeed(U64_MAX))).toBe(-1);
  });

  it("every compressibility class, at its edges", () => {
    for (let cls = 0; cls < 4; cls++) {
      for (const low of [0n, 1n, 0x2545_f491_4f6c_dd1dn, (1n << 62n) - 1n]) {
        const seed = withClass(cls, low);
        if (seed === 0n) continue;
        expectMatchesOracle(seed, 2 + cls);
      }
    }
  });

  it("a few hundred random seeds (fast-check, fixed seed)", () => {
    let gpn = 0;
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (seed) => {
        gpn = (gpn + 1) % PAGES; // spread over pages, so frames are reused and rewritten
        const core = coreContent(seed, gpn);
        return firstDifference(core, contentOfSeed(seed)) === -1;
      }),
      { seed: 20240601, numRuns: 300 },
    );
  });

  it("random seeds of each class (fast-check, fixed seed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.bigInt({ min: 1n, max: (1n << 62n) - 1n }), (cls, low) => {
        const seed = withClass(cls, low);
        return firstDifference(coreContent(seed, 7), contentOfSeed(seed)) === -1;
      }),
      { seed: 7, numRuns: 120 },
    );
  });

  it("many pages filled in one batch (writeSeeds) each equal the oracle", () => {
    const gpns = Array.from({ length: PAGES }, (_, i) => i);
    const seeds = gpns.map((i) => withClass(i & 3, BigInt(i) * 0x9e37_79b9_7f4a_7c15n + 1n));
    const result = machine.writeSeeds(0, gpns, seeds);
    expect(result.stop).toBe("none");
    expect(result.completed).toBe(PAGES);
    for (const gpn of gpns) {
      const seed = seeds[gpn] ?? 0n;
      const at = firstDifference(machine.readPage(0, gpn), contentOfSeed(seed));
      expect(at, `page ${gpn}, seed ${hex(seed)}`).toBe(-1);
    }
    machine.audit();
  });
});

describe("determinism and distinctness", () => {
  it("the same seed twice gives the same bytes (and on different pages)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: U64_MAX }), (seed) => {
        const a = coreContent(seed, 10);
        const b = coreContent(seed, 11);
        const c = coreContent(seed, 10);
        return firstDifference(a, b) === -1 && firstDifference(a, c) === -1;
      }),
      { seed: 99, numRuns: 60 },
    );
  });

  it("different seeds give different pages", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: U64_MAX }),
        fc.bigInt({ min: 0n, max: U64_MAX }),
        (s1, s2) => {
          fc.pre(s1 !== s2);
          const a = coreContent(s1, 20);
          const b = coreContent(s2, 21);
          return firstDifference(a, b) !== -1;
        },
      ),
      { seed: 1234, numRuns: 100 },
    );
    // Neighbours differing in one bit, in each half and in the class bits.
    for (const bit of [0n, 31n, 32n, 61n, 62n, 63n]) {
      const base = 0x5555_5555_5555_5555n;
      const other = base ^ (1n << bit);
      expect(firstDifference(coreContent(base, 22), coreContent(other, 23)), `bit ${bit}`).not.toBe(-1);
    }
  });
});
