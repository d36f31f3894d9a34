// Seeded pseudo-random numbers for everything the simulation decides by chance (victim pages,
// samples, workload touches). sfc32: small, fast, 32-bit, good statistical quality; the same seed
// gives the same sequence on every machine.

export class Random {
  /** The four 32-bit words of state, in a typed array so they stay unboxed (fields holding values
   * above 2^30 would be heap numbers and make every draw allocate). */
  private readonly s = new Int32Array(4);

  /** Seeds from a 64-bit value (BigInt) or a number; `stream` separates independent sequences. */
  constructor(seed: bigint | number, stream = 0) {
    const v = BigInt.asUintN(64, BigInt(seed));
    this.s[0] = Number(v & 0xffffffffn) | 0;
    this.s[1] = Number(v >> 32n) | 0;
    this.s[2] = Math.imul(stream, 0x9e3779b9);
    this.s[3] = 1;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const s = this.s;
    const a = s[0] as number;
    const b = s[1] as number;
    const c = s[2] as number;
    const d = s[3] as number;
    const t = (((a + b) | 0) + d) | 0;
    s[3] = (d + 1) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 0 < n <= 2^32. */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** A 64-bit value (two draws). */
  nextUint64(): bigint {
    return (BigInt(this.nextUint32()) << 32n) | BigInt(this.nextUint32());
  }
}

/** Mixes a seed with a label into a new 64-bit seed (SplitMix64 finaliser). */
export function deriveSeed(seed: bigint, label: number): bigint {
  let z = BigInt.asUintN(64, seed + BigInt(label + 1) * 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return z ^ (z >> 31n);
}
