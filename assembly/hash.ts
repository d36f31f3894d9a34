// Page hashing for the sharing scan: every guest page is hashed to find candidate identical pages
// (content-based page sharing), so the 4 KiB XXH3-64 below is the hottest kernel of the core.
//
//   xxh3Page   XXH3-64, seed 0, default 192-byte secret, exactly 4096 bytes, v128 SIMD. The page hash.
//   xxh64      XXH64 of any length (exact reference output), for keys and tests.
//   xxh64Page  XXH64 specialised for 4096 bytes, for benchmarks against other XXH64 builds.
//   xxh3Pages / xxh64Pages  batch forms (one call hashes `count` consecutive pages) for benchmarks.
//
// All loads are little-endian (wasm is) and unaligned loads are fine. Both algorithms follow the
// reference xxHash (xxhash.h): XXH64_round / mergeRound / avalanche / finalize, and for XXH3
// hashLong_64b: accumulate_512 over stripes, scrambleAcc after each full block, the last stripe with
// the secret at offset 121, then mergeAccs with the secret at offset 11 and a final avalanche.

const PAGE_BYTES: usize = 4096;

const PRIME32_1: u64 = 0x9e3779b1;
const PRIME32_2: u64 = 0x85ebca77;
const PRIME32_3: u64 = 0xc2b2ae3d;
const PRIME64_1: u64 = 0x9e3779b185ebca87;
const PRIME64_2: u64 = 0xc2b2ae3d27d4eb4f;
const PRIME64_3: u64 = 0x165667b19e3779f9;
const PRIME64_4: u64 = 0x85ebca77c2b2ae63;
const PRIME64_5: u64 = 0x27d4eb2f165667c5;
const PRIME_MX1: u64 = 0x165667919e3779f9;

const LOW32_MASK: u64 = 0xffffffff;

// XXH3 geometry for the default secret: a stripe is 64 bytes (8 u64 lanes), the secret advances
// 8 bytes per stripe, so a block is (192 - 64) / 8 = 16 stripes = 1024 bytes. A 4096-byte page is
// (4096 - 1) / 1024 = 3 full blocks (each followed by a scramble), then (4095 - 3072) / 64 = 15
// stripes of the 4th block, then the last stripe (bytes 4032..4095) with its own secret offset.
const STRIPE_BYTES: usize = 64;
const SECRET_BYTES: usize = 192;
const SECRET_ADVANCE: usize = 8;
const STRIPES_PER_BLOCK: usize = (SECRET_BYTES - STRIPE_BYTES) / SECRET_ADVANCE; // 16
const BLOCK_BYTES: usize = STRIPES_PER_BLOCK * STRIPE_BYTES; // 1024
const PAGE_FULL_BLOCKS: usize = (PAGE_BYTES - 1) / BLOCK_BYTES; // 3
const PAGE_TAIL_STRIPES: usize = (PAGE_BYTES - 1 - PAGE_FULL_BLOCKS * BLOCK_BYTES) / STRIPE_BYTES; // 15
const SECRET_SCRAMBLE_START: usize = SECRET_BYTES - STRIPE_BYTES; // 128
const SECRET_LASTACC_START: usize = SECRET_BYTES - STRIPE_BYTES - 7; // 121
const SECRET_MERGEACCS_START: usize = 11;

/** XXH3_kSecret: the default 192-byte secret (16-aligned so the stripe-0 key loads are aligned). */
const XXH3_SECRET: usize = memory.data<u8>([
  0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
  0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
  0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
  0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
  0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
  0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
  0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
  0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
  0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
  0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
  0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
  0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
], 16);

// ---------------------------------------------------------------------------------------------
// Load helpers

@inline function load64(p: usize, offset: usize = 0): u64 {
  return load<u64>(p + offset);
}

@inline function load32(p: usize): u64 {
  return <u64>load<u32>(p);
}

@inline function load8(p: usize): u64 {
  return <u64>load<u8>(p);
}

// ---------------------------------------------------------------------------------------------
// XXH64

@inline function xxh64Round(acc: u64, input: u64): u64 {
  return rotl<u64>(acc + input * PRIME64_2, 31) * PRIME64_1;
}

@inline function xxh64MergeRound(acc: u64, val: u64): u64 {
  return (acc ^ xxh64Round(0, val)) * PRIME64_1 + PRIME64_4;
}

@inline function xxh64Avalanche(h: u64): u64 {
  h ^= h >> 33;
  h *= PRIME64_2;
  h ^= h >> 29;
  h *= PRIME64_3;
  h ^= h >> 32;
  return h;
}

@inline function xxh64Converge(v1: u64, v2: u64, v3: u64, v4: u64): u64 {
  let h = rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18);
  h = xxh64MergeRound(h, v1);
  h = xxh64MergeRound(h, v2);
  h = xxh64MergeRound(h, v3);
  h = xxh64MergeRound(h, v4);
  return h;
}

/** XXH64 of `len` bytes at `ptr` with `seed` (exact reference output for every length). */
export function xxh64(ptr: usize, len: usize, seed: u64): u64 {
  let p = ptr;
  const end = ptr + len;
  let h: u64;
  if (len >= 32) {
    let v1 = seed + PRIME64_1 + PRIME64_2;
    let v2 = seed + PRIME64_2;
    let v3 = seed;
    let v4 = seed - PRIME64_1;
    const limit = end - 32;
    do {
      v1 = xxh64Round(v1, load64(p, 0));
      v2 = xxh64Round(v2, load64(p, 8));
      v3 = xxh64Round(v3, load64(p, 16));
      v4 = xxh64Round(v4, load64(p, 24));
      p += 32;
    } while (p <= limit);
    h = xxh64Converge(v1, v2, v3, v4);
  } else {
    h = seed + PRIME64_5;
  }
  h += <u64>len;
  // XXH64_finalize: the remaining len % 32 bytes.
  while (end - p >= 8) {
    h ^= xxh64Round(0, load64(p));
    h = rotl<u64>(h, 27) * PRIME64_1 + PRIME64_4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= load32(p) * PRIME64_1;
    h = rotl<u64>(h, 23) * PRIME64_2 + PRIME64_3;
    p += 4;
  }
  while (p < end) {
    h ^= load8(p) * PRIME64_5;
    h = rotl<u64>(h, 11) * PRIME64_1;
    p += 1;
  }
  return xxh64Avalanche(h);
}

/** XXH64 of exactly 4096 bytes: 128 iterations of 4 lanes (unrolled 2x), no tail. */
@inline function xxh64PageImpl(ptr: usize, seed: u64): u64 {
  let v1 = seed + PRIME64_1 + PRIME64_2;
  let v2 = seed + PRIME64_2;
  let v3 = seed;
  let v4 = seed - PRIME64_1;
  let p = ptr;
  const end = ptr + PAGE_BYTES;
  do {
    v1 = xxh64Round(v1, load64(p, 0));
    v2 = xxh64Round(v2, load64(p, 8));
    v3 = xxh64Round(v3, load64(p, 16));
    v4 = xxh64Round(v4, load64(p, 24));
    v1 = xxh64Round(v1, load64(p, 32));
    v2 = xxh64Round(v2, load64(p, 40));
    v3 = xxh64Round(v3, load64(p, 48));
    v4 = xxh64Round(v4, load64(p, 56));
    p += 64;
  } while (p < end);
  return xxh64Avalanche(xxh64Converge(v1, v2, v3, v4) + <u64>PAGE_BYTES);
}

/** XXH64 of the 4096-byte page at `ptr` with `seed`. */
export function xxh64Page(ptr: usize, seed: u64): u64 {
  return xxh64PageImpl(ptr, seed);
}

/** XXH64 of `count` consecutive pages from `ptr`; the u64 results go to `out` (8 bytes each). */
export function xxh64Pages(ptr: usize, count: u32, seed: u64, out: usize): void {
  for (let i: u32 = 0; i < count; i++) {
    store<u64>(out + (<usize>i << 3), xxh64PageImpl(ptr + (<usize>i << 12), seed));
  }
}

// ---------------------------------------------------------------------------------------------
// XXH3-64 of a 4 KiB page

/** XXH_mult64to128 folded: low 64 bits XOR high 64 bits of the 128-bit product (portable 32x32 parts). */
@inline function mul128Fold64(a: u64, b: u64): u64 {
  const aLo = a & LOW32_MASK;
  const aHi = a >> 32;
  const bLo = b & LOW32_MASK;
  const bHi = b >> 32;
  const loLo = aLo * bLo;
  const hiLo = aHi * bLo;
  const loHi = aLo * bHi;
  const hiHi = aHi * bHi;
  const cross = (loLo >> 32) + (hiLo & LOW32_MASK) + loHi;
  const upper = (hiLo >> 32) + (cross >> 32) + hiHi;
  const lower = (cross << 32) | (loLo & LOW32_MASK);
  return lower ^ upper;
}

@inline function xxh3Avalanche(h: u64): u64 {
  h ^= h >> 37;
  h *= PRIME_MX1;
  h ^= h >> 32;
  return h;
}

/** XXH3_mix2Accs: one pair of accumulators against 16 secret bytes at `s`. */
@inline function mix2Accs(lo: u64, hi: u64, s: usize): u64 {
  return mul128Fold64(lo ^ load64(s, 0), hi ^ load64(s, 8));
}

/** XXH3_mergeAccs for a 4096-byte input, from the four accumulator vectors (lanes 0..7). */
@inline function mergePageAccs(a0: v128, a1: v128, a2: v128, a3: v128): u64 {
  const s = XXH3_SECRET + SECRET_MERGEACCS_START;
  let h: u64 = <u64>PAGE_BYTES * PRIME64_1;
  h += mix2Accs(i64x2.extract_lane(a0, 0), i64x2.extract_lane(a0, 1), s);
  h += mix2Accs(i64x2.extract_lane(a1, 0), i64x2.extract_lane(a1, 1), s + 16);
  h += mix2Accs(i64x2.extract_lane(a2, 0), i64x2.extract_lane(a2, 1), s + 32);
  h += mix2Accs(i64x2.extract_lane(a3, 0), i64x2.extract_lane(a3, 1), s + 48);
  return xxh3Avalanche(h);
}

/** XXH3_scrambleAcc on one accumulator vector: acc = ((acc ^ (acc >> 47)) ^ key) * PRIME32_1. */
@inline function scrambleVec(acc: v128, key: v128): v128 {
  const mixed = v128.xor(v128.xor(acc, i64x2.shr_u(acc, 47)), key);
  return i64x2.mul(mixed, i64x2.splat(PRIME32_1));
}

/**
 * XXH3-64 of the 4096 bytes at `ptr` (seed 0, default secret). Accumulators: 4 vectors of 2 u64.
 *
 * One stripe (XXH3_accumulate_512) per 16 bytes of data `d` and secret `k`:
 *   dk = d ^ k;  acc += lo32(dk) * hi32(dk)  (per u64 lane);  acc += swap64(d)
 * The 32x32->64 products of two vectors at once: unzip their u32 halves with two i32x4 shuffles
 * (lo = [dk0.l0 dk0.l1 dk1.l0 dk1.l1], hi = the high halves), then extmul_low / extmul_high.
 * The swapped-data term is linear, so within a block the data is summed unswapped in `s0..s3` and
 * swapped once before the scramble: sum(swap64(d)) == swap64(sum(d)) mod 2^64. That takes 4 of the
 * 16 shuffles out of the stripe loop, which is bound by instruction throughput (V8 emits ~40 x86
 * instructions per stripe: each extmul is 2 unpacks + pmuludq).
 *
 * Measured on 4 KiB pages in cache (Zen 3, Node 20): this form ~17-18 GB/s; a swap shuffle per
 * stripe ~16; i64x2.mul on masked halves instead of extmul ~10; a blend-based unzip ~16;
 * 2 vectors + 4 scalar lanes ~13; all-scalar u64 lanes ~8. The last stripe is written out after the
 * loop rather than selecting its secret inside the loop (a select there costs ~4%).
 */
@inline function xxh3PageImpl(ptr: usize): u64 {
  let a0 = i64x2(<i64>PRIME32_3, <i64>PRIME64_1);
  let a1 = i64x2(<i64>PRIME64_2, <i64>PRIME64_3);
  let a2 = i64x2(<i64>PRIME64_4, <i64>PRIME32_2);
  let a3 = i64x2(<i64>PRIME64_5, <i64>PRIME32_1);
  let p = ptr;
  for (let block: usize = 0; ; block++) {
    let k = XXH3_SECRET;
    let s0 = i64x2.splat(0);
    let s1 = i64x2.splat(0);
    let s2 = i64x2.splat(0);
    let s3 = i64x2.splat(0);
    const blockEnd = p + (block < PAGE_FULL_BLOCKS ? BLOCK_BYTES : PAGE_TAIL_STRIPES * STRIPE_BYTES);
    do {
      const d0 = v128.load(p, 0);
      const d1 = v128.load(p, 16);
      const d2 = v128.load(p, 32);
      const d3 = v128.load(p, 48);
      const dk0 = v128.xor(d0, v128.load(k, 0));
      const dk1 = v128.xor(d1, v128.load(k, 16));
      const dk2 = v128.xor(d2, v128.load(k, 32));
      const dk3 = v128.xor(d3, v128.load(k, 48));
      const lo01 = i32x4.shuffle(dk0, dk1, 0, 2, 4, 6);
      const hi01 = i32x4.shuffle(dk0, dk1, 1, 3, 5, 7);
      const lo23 = i32x4.shuffle(dk2, dk3, 0, 2, 4, 6);
      const hi23 = i32x4.shuffle(dk2, dk3, 1, 3, 5, 7);
      a0 = i64x2.add(a0, i64x2.extmul_low_i32x4_u(lo01, hi01));
      a1 = i64x2.add(a1, i64x2.extmul_high_i32x4_u(lo01, hi01));
      a2 = i64x2.add(a2, i64x2.extmul_low_i32x4_u(lo23, hi23));
      a3 = i64x2.add(a3, i64x2.extmul_high_i32x4_u(lo23, hi23));
      s0 = i64x2.add(s0, d0);
      s1 = i64x2.add(s1, d1);
      s2 = i64x2.add(s2, d2);
      s3 = i64x2.add(s3, d3);
      p += STRIPE_BYTES;
      k += SECRET_ADVANCE;
    } while (p < blockEnd);
    if (block == PAGE_FULL_BLOCKS) {
      // The last stripe: bytes 4032..4095 (p is there already), secret at offset 121.
      k = XXH3_SECRET + SECRET_LASTACC_START;
      const d0 = v128.load(p, 0);
      const d1 = v128.load(p, 16);
      const d2 = v128.load(p, 32);
      const d3 = v128.load(p, 48);
      const dk0 = v128.xor(d0, v128.load(k, 0));
      const dk1 = v128.xor(d1, v128.load(k, 16));
      const dk2 = v128.xor(d2, v128.load(k, 32));
      const dk3 = v128.xor(d3, v128.load(k, 48));
      const lo01 = i32x4.shuffle(dk0, dk1, 0, 2, 4, 6);
      const hi01 = i32x4.shuffle(dk0, dk1, 1, 3, 5, 7);
      const lo23 = i32x4.shuffle(dk2, dk3, 0, 2, 4, 6);
      const hi23 = i32x4.shuffle(dk2, dk3, 1, 3, 5, 7);
      a0 = i64x2.add(a0, i64x2.extmul_low_i32x4_u(lo01, hi01));
      a1 = i64x2.add(a1, i64x2.extmul_high_i32x4_u(lo01, hi01));
      a2 = i64x2.add(a2, i64x2.extmul_low_i32x4_u(lo23, hi23));
      a3 = i64x2.add(a3, i64x2.extmul_high_i32x4_u(lo23, hi23));
      s0 = i64x2.add(s0, d0);
      s1 = i64x2.add(s1, d1);
      s2 = i64x2.add(s2, d2);
      s3 = i64x2.add(s3, d3);
    }
    a0 = i64x2.add(a0, i64x2.shuffle(s0, s0, 1, 0));
    a1 = i64x2.add(a1, i64x2.shuffle(s1, s1, 1, 0));
    a2 = i64x2.add(a2, i64x2.shuffle(s2, s2, 1, 0));
    a3 = i64x2.add(a3, i64x2.shuffle(s3, s3, 1, 0));
    if (block == PAGE_FULL_BLOCKS) break;
    const s = XXH3_SECRET + SECRET_SCRAMBLE_START;
    a0 = scrambleVec(a0, v128.load(s, 0));
    a1 = scrambleVec(a1, v128.load(s, 16));
    a2 = scrambleVec(a2, v128.load(s, 32));
    a3 = scrambleVec(a3, v128.load(s, 48));
  }
  return mergePageAccs(a0, a1, a2, a3);
}

/** XXH3-64 (seed 0, default secret) of the 4096-byte page at `ptr`. */
export function xxh3Page(ptr: usize): u64 {
  return xxh3PageImpl(ptr);
}

/** XXH3-64 of `count` consecutive pages from `ptr`; the u64 results go to `out` (8 bytes each). */
export function xxh3Pages(ptr: usize, count: u32, out: usize): void {
  for (let i: u32 = 0; i < count; i++) {
    store<u64>(out + (<usize>i << 3), xxh3PageImpl(ptr + (<usize>i << 12)));
  }
}
