// Page content from a 64-bit content seed: the same seed always gives the same 4096 bytes, seed 0
// the zero page, so traces and scenarios can describe content in 8 bytes a page.
//
// Definition (test/oracles/content-seed.ts is an independent scalar TypeScript version, the tests' oracle):
//   - seed 0: 4096 zero bytes.
//   - otherwise the top two bits pick how many leading 64-bit words are pseudo-random; the rest of
//     the page is zero, so the class fixes how well the page compresses:
//        seed >>> 62   random words   random bytes   LZ4 block (about)
//        0             512            4096           > 4096: incompressible
//        1             128            1024           ~1040: compressible
//        2             32             256            ~270
//        3             8              64             ~80
//   - the words come from four xorshift128+ generators (Vigna; shifts 23, 18, 5) run side by side:
//     word i is the (i >> 2)-th output of generator (i & 3). Generator j starts from the SplitMix64
//     outputs 2j and 2j+1 of the seed. Two generators share one v128, so a page takes
//     randomWords / 4 steps of two vector lanes pairs.

const GOLDEN_GAMMA: u64 = 0x9e3779b97f4a7c15;

@inline function splitMix64(state: u64): u64 {
  let z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

/** How many leading u64 words of a page from `seed` are random (0 for seed 0). */
@inline export function randomWordsOfSeed(seed: u64): u32 {
  if (seed == 0) return 0;
  return 512 >>> (<u32>(seed >>> 62) << 1);
}

/** Writes the 4096 bytes of `seed`'s content at `dst`. */
export function fillFromSeed(dst: usize, seed: u64): void {
  const words = randomWordsOfSeed(seed);
  if (words == 0) {
    memory.fill(dst, 0, 4096);
    return;
  }
  let s = seed;
  s += GOLDEN_GAMMA; const a0 = splitMix64(s);
  s += GOLDEN_GAMMA; const b0 = splitMix64(s);
  s += GOLDEN_GAMMA; const a1 = splitMix64(s);
  s += GOLDEN_GAMMA; const b1 = splitMix64(s);
  s += GOLDEN_GAMMA; const a2 = splitMix64(s);
  s += GOLDEN_GAMMA; const b2 = splitMix64(s);
  s += GOLDEN_GAMMA; const a3 = splitMix64(s);
  s += GOLDEN_GAMMA; const b3 = splitMix64(s);
  // Lanes: (generator 0, generator 1) and (generator 2, generator 3).
  let x01 = i64x2(<i64>a0, <i64>a1);
  let y01 = i64x2(<i64>b0, <i64>b1);
  let x23 = i64x2(<i64>a2, <i64>a3);
  let y23 = i64x2(<i64>b2, <i64>b3);
  const end = dst + (<usize>words << 3);
  for (let p = dst; p < end; p += 32) {
    v128.store(p, i64x2.add(x01, y01));
    v128.store(p, i64x2.add(x23, y23), 16);
    let t01 = v128.xor(x01, i64x2.shl(x01, 23));
    let t23 = v128.xor(x23, i64x2.shl(x23, 23));
    x01 = y01;
    x23 = y23;
    y01 = v128.xor(v128.xor(t01, y01), v128.xor(i64x2.shr_u(t01, 18), i64x2.shr_u(y01, 5)));
    y23 = v128.xor(v128.xor(t23, y23), v128.xor(i64x2.shr_u(t23, 18), i64x2.shr_u(y23, 5)));
  }
  if (words < 512) memory.fill(end, 0, 4096 - (<usize>words << 3));
}
