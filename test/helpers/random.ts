// Seeded test data: a small xorshift32 generator and random bytes from it (everything random in
// the tests takes a seed).

/** xorshift32: the same seed gives the same sequence of u32 values. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `length` pseudo-random bytes from `seed`. */
export function randomBytes(length: number, seed: number): Uint8Array {
  const next = xorshift32(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = next() >>> 24;
  return out;
}
