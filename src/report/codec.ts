// Lossless, compact column encoding for the data a report embeds (every sample, never thinned).
// Most metrics are whole pages in MiB (multiples of 1/256), rates over a whole number of seconds,
// or CSV values with three decimals: such a column is stored as integers round(x * scale), as
// deltas (zigzag LEB128 varints), which are mostly 0 or small. Any other column (NaN gaps, odd
// floats) is stored as IEEE doubles, each XORed with the one before (a value that holds still gives
// zero bytes, one that drifts keeps its sign, exponent and top mantissa bytes: zeros too), with the
// bytes split into 8 planes (all first bytes, then all second bytes, ...), which compresses far better. The whole blob is then gzipped by the writer and
// un-gzipped by the page (DecompressionStream). Decoding gives back exactly the same doubles.
// No Node APIs: the page's script uses `decodeColumns`.

export interface ColumnEncoding {
  readonly key: string;
  /** "int": round(x * scale) as delta + zigzag varints; "f64": doubles XORed with the previous one, in byte planes. */
  readonly codec: "int" | "f64";
  readonly scale: number;
  readonly length: number;
  /** Byte range in the blob. */
  readonly offset: number;
  readonly bytes: number;
}

/** Scales tried, in order, for a column of exact multiples of 1/scale. */
const SCALES = [1, 256, 1000, 2560, 25600, 10, 100, 4096, 65536, 256000];
/** Integers stay below this, so that deltas and their zigzag stay exact doubles. */
const INT_LIMIT = 2 ** 50;

class ByteWriter {
  private data = new Uint8Array(1 << 16);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }

  varint(value: number): void {
    this.ensure(8);
    let v = value;
    while (v >= 128) {
      this.data[this.length++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.data[this.length++] = v;
  }

  bytes(values: Uint8Array): void {
    this.ensure(values.length);
    this.data.set(values, this.length);
    this.length += values.length;
  }

  finish(): Uint8Array {
    return this.data.slice(0, this.length);
  }
}

/** The scale at which every value is an exact integer (below 2^50), or undefined. */
export function integerScale(values: ArrayLike<number>): number | undefined {
  for (const scale of SCALES) {
    let exact = true;
    for (let i = 0; i < values.length; i++) {
      const x = values[i] as number;
      const v = Math.round(x * scale);
      if (!(Math.abs(v) < INT_LIMIT) || v / scale !== x || (x === 0 && Object.is(x, -0))) {
        exact = false;
        break;
      }
    }
    if (exact) return scale;
  }
  return undefined;
}

function zigzag(d: number): number {
  return d >= 0 ? d * 2 : -d * 2 - 1;
}

/** Encodes columns into one blob (not yet compressed) and says where each one is. */
export function encodeColumns(columns: readonly { key: string; values: ArrayLike<number> }[]): { columns: ColumnEncoding[]; blob: Uint8Array } {
  const out = new ByteWriter();
  const encodings: ColumnEncoding[] = [];
  for (const { key, values } of columns) {
    const offset = out.length;
    const scale = integerScale(values);
    if (scale !== undefined) {
      let previous = 0;
      for (let i = 0; i < values.length; i++) {
        const v = Math.round((values[i] as number) * scale);
        out.varint(zigzag(v - previous));
        previous = v;
      }
      encodings.push({ key, codec: "int", scale, length: values.length, offset, bytes: out.length - offset });
    } else {
      const n = values.length;
      const raw = new DataView(new ArrayBuffer(n * 8));
      for (let i = 0; i < n; i++) raw.setFloat64(i * 8, values[i] as number, true);
      const bytes = new Uint8Array(raw.buffer);
      const planes = new Uint8Array(n * 8);
      for (let b = 0; b < 8; b++) {
        let previous = 0;
        for (let i = 0; i < n; i++) {
          const byte = bytes[i * 8 + b] as number;
          planes[b * n + i] = byte ^ previous;
          previous = byte;
        }
      }
      out.bytes(planes);
      encodings.push({ key, codec: "f64", scale: 1, length: n, offset, bytes: out.length - offset });
    }
  }
  return { columns: encodings, blob: out.finish() };
}

/** Decodes one column of a blob made by `encodeColumns`. */
export function decodeColumn(encoding: ColumnEncoding, blob: Uint8Array): Float64Array {
  const end = encoding.offset + encoding.bytes;
  if (end > blob.length) throw new RangeError(`column ${encoding.key}: bytes ${encoding.offset}..${end} are past the end of the data (${blob.length} bytes)`);
  if (encoding.codec === "int") {
    const values = new Float64Array(encoding.length);
    const used = decodeInts(blob, encoding.offset, values, encoding.scale);
    if (used !== encoding.bytes) throw new RangeError(`column ${encoding.key}: ${encoding.length} varints take ${used} bytes, expected ${encoding.bytes}`);
    return values;
  }
  if (encoding.bytes !== encoding.length * 8) throw new RangeError(`column ${encoding.key}: ${encoding.bytes} bytes for ${encoding.length} doubles`);
  return decodeDoubles(blob, encoding.offset, encoding.length);
}

/** Delta + zigzag varints into values (divided by scale); returns the bytes read. */
function decodeInts(blob: Uint8Array, offset: number, values: Float64Array, scale: number): number {
  const n = values.length;
  let p = offset;
  let previous = 0;
  for (let i = 0; i < n; i++) {
    let byte = blob[p++] as number;
    let z = byte;
    if (byte >= 128) {
      z = byte & 127;
      let multiplier = 128;
      do {
        byte = blob[p++] as number;
        z += (byte & 127) * multiplier;
        multiplier *= 128;
      } while (byte >= 128);
    }
    const odd = z < 2147483648 ? z & 1 : z % 2;
    previous += odd ? -(z + 1) / 2 : z / 2;
    values[i] = previous / scale;
  }
  return p - offset;
}

/** Doubles from 8 byte planes of XOR deltas (little-endian byte order in the planes). */
function decodeDoubles(blob: Uint8Array, offset: number, n: number): Float64Array {
  const values = new Float64Array(n);
  const bytes = new Uint8Array(values.buffer);
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  for (let b = 0; b < 8; b++) {
    const target = littleEndian ? b : 7 - b;
    const plane = blob.subarray(offset + b * n, offset + (b + 1) * n);
    let byte = 0;
    for (let i = 0; i < n; i++) {
      byte ^= plane[i] as number;
      bytes[i * 8 + target] = byte;
    }
  }
  return values;
}

/** Decodes every column, by key. */
export function decodeColumns(encodings: readonly ColumnEncoding[], blob: Uint8Array): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const encoding of encodings) out.set(encoding.key, decodeColumn(encoding, blob));
  return out;
}
