// Oracle: the content-seed generator, written from its specification (the header comment of
// assembly/content.ts), not from the AssemblyScript. Scalar and BigInt-based on purpose: slow,
// obvious, and sharing no code or trick (no v128 lanes, no loop fusion) with the core's version.
//
//   - seed 0: 4096 zero bytes;
//   - otherwise the top two bits of the seed pick how many leading u64 words are pseudo-random
//     (0 -> 512, 1 -> 128, 2 -> 32, 3 -> 8); the rest of the page is zero;
//   - four xorshift128+ generators (Vigna; shifts 23, 18, 5; each output is s0 + s1 taken before the
//     state update); word i is the (i >> 2)-th output of generator (i & 3);
//   - generator j starts from SplitMix64 outputs 2j (state word 0) and 2j + 1 (state word 1) of
//     the seed: SplitMix64 adds 0x9E3779B97F4A7C15 to its state, then mixes (30, 27, 31 with
//     0xBF58476D1CE4E5B9 and 0x94D049BB133111EB);
//   - words are stored little-endian.

const MASK64 = (1n << 64n) - 1n;
const PAGE_BYTES = 4096;

/** How many leading u64 words are random for each value of the seed's top two bits. */
export const RANDOM_WORDS_BY_CLASS: readonly number[] = [512, 128, 32, 8];

/** The compressibility class of a seed (its top two bits). */
export function seedClass(seed: bigint): number {
  return Number((BigInt.asUintN(64, seed) >> 62n) & 3n);
}

/** How many leading u64 words of the seed's page are random (0 for seed 0). */
export function randomWordsOf(seed: bigint): number {
  const s = BigInt.asUintN(64, seed);
  if (s === 0n) return 0;
  return RANDOM_WORDS_BY_CLASS[seedClass(s)] ?? 0;
}

/** A SplitMix64 stream (Steele, Lea, Flood): state += golden gamma, then the variant-13 mix. */
class SplitMix64 {
  private state: bigint;
  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed);
  }
  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }
}

/** xorshift128+ as in Vigna's reference code: result = s[0] + s[1], computed before the update. */
class XorShift128Plus {
  private s0: bigint;
  private s1: bigint;
  constructor(s0: bigint, s1: bigint) {
    this.s0 = s0;
    this.s1 = s1;
  }
  next(): bigint {
    let x = this.s0;
    const y = this.s1;
    const result = (x + y) & MASK64;
    this.s0 = y;
    x = (x ^ (x << 23n)) & MASK64;
    this.s1 = x ^ y ^ (x >> 18n) ^ (y >> 5n);
    return result;
  }
}

/** The first `count` SplitMix64 outputs from `seed` (for checking the oracle against known vectors). */
export function splitMix64Outputs(seed: bigint, count: number): bigint[] {
  const mix = new SplitMix64(seed);
  return Array.from({ length: count }, () => mix.next());
}

/** The 4096 bytes the core writes for `seed` (taken modulo 2^64). */
export function contentOfSeed(seed: bigint): Uint8Array {
  const s = BigInt.asUintN(64, seed);
  const page = new Uint8Array(PAGE_BYTES);
  const words = randomWordsOf(s);
  if (words === 0) return page;
  const mix = new SplitMix64(s);
  const generators: XorShift128Plus[] = [];
  for (let j = 0; j < 4; j++) {
    const first = mix.next(); // output 2j
    const second = mix.next(); // output 2j + 1
    generators.push(new XorShift128Plus(first, second));
  }
  // Word i is the (i >> 2)-th output of generator (i & 3): draw them in word order, which calls
  // each generator in turn, so each one's k-th call lands at word 4k + j.
  for (let i = 0; i < words; i++) {
    const generator = generators[i & 3];
    if (generator === undefined) throw new Error("unreachable: four generators");
    let word = generator.next();
    for (let b = 0; b < 8; b++) {
      page[i * 8 + b] = Number(word & 0xffn);
      word >>= 8n;
    }
  }
  return page;
}
