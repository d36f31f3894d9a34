// Page comparison for the sharing scan: a hash match is only a candidate, so before two guest pages
// are merged onto one frame their 4096 bytes are compared in full (pagesEqual); pageIsZero confirms
// the all-zero pages (the most common shared content).
//
// Both kernels read 128 bytes (8 v128 loads per page) per step, combine them with XOR / OR and test
// the result once per step with v128.any_true, so a difference exits within 128 bytes of it.

const PAGE_BYTES: usize = 4096;
/** Bytes tested per step: 8 vectors of 16 bytes. */
const STEP_BYTES: usize = 128;

/**
 * OR of the XOR of 128 bytes at `a` and `b`: zero exactly when they are equal. Two OR chains (even
 * and odd vectors) rather than a tree: V8 then keeps every value in a register (a tree of 8 XORs
 * made it hoist all 16 loads and spill one).
 */
@inline function diff128(a: usize, b: usize): v128 {
  let even = v128.xor(v128.load(a, 0), v128.load(b, 0));
  let odd = v128.xor(v128.load(a, 16), v128.load(b, 16));
  even = v128.or(even, v128.xor(v128.load(a, 32), v128.load(b, 32)));
  odd = v128.or(odd, v128.xor(v128.load(a, 48), v128.load(b, 48)));
  even = v128.or(even, v128.xor(v128.load(a, 64), v128.load(b, 64)));
  odd = v128.or(odd, v128.xor(v128.load(a, 80), v128.load(b, 80)));
  even = v128.or(even, v128.xor(v128.load(a, 96), v128.load(b, 96)));
  odd = v128.or(odd, v128.xor(v128.load(a, 112), v128.load(b, 112)));
  return v128.or(even, odd);
}

/** OR of 128 bytes at `p`: zero exactly when they are all zero. */
@inline function or128(p: usize): v128 {
  return v128.or(
    v128.or(v128.or(v128.load(p, 0), v128.load(p, 16)), v128.or(v128.load(p, 32), v128.load(p, 48))),
    v128.or(v128.or(v128.load(p, 64), v128.load(p, 80)), v128.or(v128.load(p, 96), v128.load(p, 112))),
  );
}

@inline function pagesEqualImpl(a: usize, b: usize): bool {
  const end = a + PAGE_BYTES;
  do {
    if (v128.any_true(diff128(a, b))) return false;
    a += STEP_BYTES;
    b += STEP_BYTES;
  } while (a < end);
  return true;
}

@inline function pageIsZeroImpl(p: usize): bool {
  const end = p + PAGE_BYTES;
  do {
    if (v128.any_true(or128(p))) return false;
    p += STEP_BYTES;
  } while (p < end);
  return true;
}

/** Whether the 4096 bytes at `a` and at `b` are equal (any alignment; exits at the first differing 128 bytes). */
export function pagesEqual(a: usize, b: usize): bool {
  return pagesEqualImpl(a, b);
}

/** Whether the 4096 bytes at `p` are all zero (any alignment; exits at the first nonzero 128 bytes). */
export function pageIsZero(p: usize): bool {
  return pageIsZeroImpl(p);
}

/** Compares `count` page pairs (page i at a + 4096 i against b + 4096 i); returns how many are equal. */
export function comparePagesBatch(a: usize, b: usize, count: u32): u32 {
  let equal: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    const offset = <usize>i << 12;
    if (pagesEqualImpl(a + offset, b + offset)) equal++;
  }
  return equal;
}

/** Tests `count` consecutive pages from `p`; returns how many are all zero. */
export function zeroPagesBatch(p: usize, count: u32): u32 {
  let zero: u32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (pageIsZeroImpl(p + (<usize>i << 12))) zero++;
  }
  return zero;
}
