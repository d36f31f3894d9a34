// LZ4 block format (the raw blocks of liblz4's LZ4_compress_default / LZ4_decompress_safe, no frame)
// for the compression cache: a 4 KiB guest page whose block is at most 2048 bytes is kept compressed
// instead of being swapped, so `lz4CompressBlock(page, 4096, slot, 2048)` is both the compressor and
// the "is this page compressible?" test, and must be cheap when the answer is no.
//
// Block format: a sequence is [token][literal length ext][literals][offset u16 LE][match length ext];
// token = literal length (high nibble) and match length - 4 (low nibble), a nibble of 15 continues
// with bytes added until one is not 255. The last sequence is literals only and ends the block.
//
// Compressor: liblz4's fast single-pass greedy parser (hash of 4 bytes, one candidate per bucket,
// skip step that grows every 64 misses, backward extension of a match found, re-test right after a
// match), with a table of u16 positions for inputs below 64 KiB + 11 (u32 positions and a 64 KiB
// distance check above), cleared per call so the output depends only on the input. Output rules:
// min match 4, the last 5 bytes are literals, the last match starts at least 12 bytes before the end.
// It returns 0 as soon as the output provably exceeds dstCap (see MAX_CATCH_UP), so the result is
// exactly: size <= dstCap ? size : 0, the same size for every dstCap that holds it.
//
// Decompressor: safe for any input. It reads only [src, src + srcLen) and writes only
// [dst, dst + dstCap), and returns the decoded length or one of the negative LZ4_ERROR_* codes.

/** Bytes of a guest page (the batch exports work on whole pages). */
const PAGE_BYTES: usize = 4096;

const MIN_MATCH: usize = 4;
/** The last LAST_LITERALS bytes of a block are always literals. */
const LAST_LITERALS: usize = 5;
/** A match starts at least MF_LIMIT bytes before the end of the block. */
const MF_LIMIT: usize = 12;
/** Inputs shorter than this are stored as one literal run. */
const MIN_INPUT_FOR_MATCH: i32 = <i32>MF_LIMIT + 1;
const ML_BITS: u32 = 4;
const RUN_MASK: usize = 15;
const ML_MASK: usize = 15;
const MAX_DISTANCE: usize = 65535;
/** Misses before the search step grows by one (liblz4's LZ4_skipTrigger, acceleration 1). */
const SKIP_TRIGGER: u32 = 6;
/**
 * Bound on how far a match found by the search is extended backwards over pending literals.
 * liblz4 does not bound it; bounding it makes the early abort exact: once the scan is
 * MAX_CATCH_UP + (room left) bytes past the last match, no later match can make the block fit.
 * Longer extensions are rare (a repeat that starts inside a long incompressible stretch, found
 * only after the skipping search lands on a position it indexed before); the bytes past the
 * bound then stay literals.
 */
const MAX_CATCH_UP: usize = 64;
/** Bytes a sequence needs besides its literals: token, offset, and the final token + 5 literals. */
const SEQUENCE_OVERHEAD: usize = 1 + 2 + 1 + LAST_LITERALS;

/** Knuth's multiplicative hash constant (liblz4's LZ4_hash4). */
const HASH_MULTIPLIER: u32 = 2654435761;
/** log2 of the hash table entries with u16 positions (inputs < U16_INPUT_LIMIT): 8 KiB. */
const HASH_LOG_U16: i32 = 12;
/** log2 of the hash table entries with u32 positions (larger inputs): 16 KiB. */
const HASH_LOG_U32: i32 = 12;
const HASH_TABLE_BYTES: i32 = 1 << 14;
/** Inputs below this have every match candidate position < 65536 (liblz4's LZ4_64Klimit). */
const U16_INPUT_LIMIT: i32 = 65536 + <i32>MF_LIMIT - 1;
/** The largest input either side accepts (liblz4's LZ4_MAX_INPUT_SIZE); also caps decoded lengths. */
export const LZ4_MAX_INPUT_SIZE: i32 = 0x7e000000;

const HASH_TABLE: usize = memory.data(HASH_TABLE_BYTES, 16);

// Decompressor error codes (lz4DecompressBlock returns a decoded length >= 0 or one of these):
/** srcLen or dstCap is negative. */
export const LZ4_ERROR_BAD_ARGUMENT: i32 = -1;
/**
 * The input is empty, ends inside a length or an offset, or ends after a match (a block ends with a
 * literal-only sequence); trailing bytes after a block's last literals also end up here.
 */
export const LZ4_ERROR_TRUNCATED: i32 = -2;
/** A literal run reaches past the end of the input. */
export const LZ4_ERROR_LITERALS_PAST_INPUT: i32 = -3;
/** Literals or a match would be written past dst + dstCap. */
export const LZ4_ERROR_OUTPUT_OVERFLOW: i32 = -4;
/** A match offset of 0 (invalid in the format; liblz4 itself does not check it). */
export const LZ4_ERROR_OFFSET_ZERO: i32 = -5;
/** A match offset reaching before the start of the output. */
export const LZ4_ERROR_OFFSET_BEFORE_OUTPUT: i32 = -6;
/** A literal or match length field larger than LZ4_MAX_INPUT_SIZE. */
export const LZ4_ERROR_LENGTH_OVERFLOW: i32 = -7;

// ---------------------------------------------------------------------------------------------
// Helpers

@inline function hash4(seq: u32, log: i32): usize {
  return <usize>((seq * HASH_MULTIPLIER) >> <u32>(32 - log));
}

/** The table slot address of bucket `h` for position type T (u16 or u32). */
@inline function slotOf<T>(h: usize): usize {
  return HASH_TABLE + (h << alignof<T>());
}

/** Length of the common prefix of `a` and `b`, comparing no byte at or past `aLimit` (a < b). */
@inline function commonLength(a: usize, b: usize, aLimit: usize): usize {
  const start = a;
  if (a + 8 <= aLimit) {
    const diff = load<u64>(a) ^ load<u64>(b);
    if (diff != 0) return <usize>(ctz<u64>(diff) >> 3);
    a += 8;
    b += 8;
    while (a + 16 <= aLimit) {
      const equal = i8x16.bitmask(i8x16.eq(v128.load(a), v128.load(b)));
      if (equal != 0xffff) return a - start + <usize>ctz<i32>(~equal);
      a += 16;
      b += 16;
    }
    if (a + 8 <= aLimit) {
      const d = load<u64>(a) ^ load<u64>(b);
      if (d != 0) return a - start + <usize>(ctz<u64>(d) >> 3);
      a += 8;
      b += 8;
    }
  }
  if (a + 4 <= aLimit && load<u32>(a) == load<u32>(b)) {
    a += 4;
    b += 4;
  }
  if (a + 2 <= aLimit && load<u16>(a) == load<u16>(b)) {
    a += 2;
    b += 2;
  }
  if (a < aLimit && load<u8>(a) == load<u8>(b)) a += 1;
  return a - start;
}

/** Copies `len` bytes forward in 16-byte chunks: may write up to 15 bytes past dst + len and read past src + len. */
@inline function wildCopy16(dst: usize, src: usize, len: usize): void {
  const end = dst + len;
  do {
    v128.store(dst, v128.load(src));
    dst += 16;
    src += 16;
  } while (dst < end);
}

/** Writes the extension bytes of a length whose nibble was 15 (`rest` = length - 15). Returns the new op. */
@inline function writeLengthExt(op: usize, rest: usize): usize {
  while (rest >= 255 * 4) {
    store<u32>(op, 0xffffffff);
    op += 4;
    rest -= 255 * 4;
  }
  while (rest >= 255) {
    store<u8>(op, 255);
    op += 1;
    rest -= 255;
  }
  store<u8>(op, <u8>rest);
  return op + 1;
}

// ---------------------------------------------------------------------------------------------
// Compressor

/**
 * Greedy LZ4 parse of [src, src + srcLen) into [dst, dst + dstCap); positions in the hash table are
 * of type T (u16 when srcLen < U16_INPUT_LIMIT, else u32 with a distance check). 0 = does not fit.
 */
@inline function compressWith<T>(src: usize, srcLen: i32, dst: usize, dstCap: i32): i32 {
  const isU16 = sizeof<T>() == 2;
  const hashLog = isU16 ? HASH_LOG_U16 : HASH_LOG_U32;
  const iend = src + <usize>srcLen;
  const oend = dst + <usize>dstCap;
  let op = dst;
  let anchor = src;

  if (srcLen >= MIN_INPUT_FOR_MATCH) {
    // Clearing 8 KiB costs ~0.15 us per call (~15% of an incompressible page, ~1.5% of a text
    // page). Measured against u32 entries tagged with a per-call epoch (no clearing, a tag check per
    // probe): the epoch table was slower on both text and incompressible pages.
    memory.fill(HASH_TABLE, 0, <usize>1 << (<usize>hashLog + alignof<T>()));
    const mflimitPlusOne = iend - MF_LIMIT + 1;
    const matchLimit = iend - LAST_LITERALS;
    // Position 0 is in every bucket already (the table is zeroed): start at 1.
    let ip = src + 1;
    let forwardH = hash4(load<u32>(ip), hashLog);
    let done = false;

    while (!done) {
      // --- Find a match: probe ip, ip + step, ... with the step growing every 64 misses.
      // Past abortIp no match can fit anymore (literals since anchor minus the bounded catch-up,
      // plus SEQUENCE_OVERHEAD, exceed the room left), so the scan stops at min(that, the end).
      const room = oend - op;
      const abortIp = room >= iend - anchor ? iend : anchor + MAX_CATCH_UP + room - SEQUENCE_OVERHEAD;
      const scanLimit = abortIp < mflimitPlusOne ? abortIp : mflimitPlusOne;
      let forwardIp = ip;
      let step: usize = 1;
      let searchCount: u32 = 1 << SKIP_TRIGGER;
      let match: usize = 0;
      while (true) {
        const h = forwardH;
        ip = forwardIp;
        forwardIp += step;
        step = <usize>(searchCount++ >> SKIP_TRIGGER);
        if (forwardIp > scanLimit) {
          if (forwardIp > mflimitPlusOne) {
            done = true;
            break;
          }
          if (ip > abortIp) return 0;
        }
        const slot = slotOf<T>(h);
        match = src + <usize>load<T>(slot);
        forwardH = hash4(load<u32>(forwardIp), hashLog);
        store<T>(slot, <T>(ip - src));
        if (!isU16 && ip - match > MAX_DISTANCE) continue;
        if (load<u32>(match) == load<u32>(ip)) break;
      }
      if (done) break;

      // --- Extend the match backwards over the pending literals (at most MAX_CATCH_UP bytes).
      const catchLimitA = ip - anchor > MAX_CATCH_UP ? ip - MAX_CATCH_UP : anchor;
      while (ip > catchLimitA && match > src && load<u8>(ip - 1) == load<u8>(match - 1)) {
        ip--;
        match--;
      }

      // --- Literals: token, length extension, bytes.
      const litLen = ip - anchor;
      let token = op;
      op += 1;
      if (op + litLen + (2 + 1 + LAST_LITERALS) + litLen / 255 > oend) return 0;
      let tokenValue: u32;
      if (litLen >= RUN_MASK) {
        tokenValue = <u32>RUN_MASK << ML_BITS;
        op = writeLengthExt(op, litLen - RUN_MASK);
      } else {
        tokenValue = <u32>litLen << ML_BITS;
      }
      if (litLen != 0) {
        if (op + litLen + 16 <= oend && ip + 16 <= iend) {
          wildCopy16(op, anchor, litLen);
        } else {
          memory.copy(op, anchor, litLen);
        }
        op += litLen;
      }

      // --- Matches: the one found, then as long as the position right after a match matches too.
      while (true) {
        store<u16>(op, <u16>(ip - match));
        op += 2;
        const matchCode = commonLength(ip + MIN_MATCH, match + MIN_MATCH, matchLimit);
        ip += matchCode + MIN_MATCH;
        if (op + (1 + LAST_LITERALS) + (matchCode + 240) / 255 > oend) return 0;
        if (matchCode >= ML_MASK) {
          store<u8>(token, <u8>(tokenValue | <u32>ML_MASK));
          op = writeLengthExt(op, matchCode - ML_MASK);
        } else {
          store<u8>(token, <u8>(tokenValue | <u32>matchCode));
        }
        anchor = ip;
        if (ip >= mflimitPlusOne) {
          done = true;
          break;
        }
        // Index ip - 2 (skipped by the match), then test ip itself.
        store<T>(slotOf<T>(hash4(load<u32>(ip - 2), hashLog)), <T>(ip - 2 - src));
        const slot = slotOf<T>(hash4(load<u32>(ip), hashLog));
        match = src + <usize>load<T>(slot);
        store<T>(slot, <T>(ip - src));
        if ((isU16 || ip - match <= MAX_DISTANCE) && load<u32>(match) == load<u32>(ip)) {
          token = op;
          op += 1;
          tokenValue = 0;
          continue;
        }
        ip += 1;
        forwardH = hash4(load<u32>(ip), hashLog);
        break;
      }
    }
  }

  // --- Last literals: [anchor, iend).
  const lastRun = iend - anchor;
  const extBytes = lastRun >= RUN_MASK ? (lastRun - RUN_MASK) / 255 + 1 : 0;
  if (op + 1 + extBytes + lastRun > oend) return 0;
  if (lastRun >= RUN_MASK) {
    store<u8>(op, <u8>(RUN_MASK << ML_BITS));
    op = writeLengthExt(op + 1, lastRun - RUN_MASK);
  } else {
    store<u8>(op, <u8>(lastRun << ML_BITS));
    op += 1;
  }
  memory.copy(op, anchor, lastRun);
  op += lastRun;
  return <i32>(op - dst);
}

/**
 * Compresses `srcLen` bytes at `src` into one LZ4 block at `dst`. Returns the block size, or 0 when
 * it would not fit in `dstCap` bytes (then the contents of dst are unspecified) or srcLen is out of
 * [0, LZ4_MAX_INPUT_SIZE]. An empty input gives the 1-byte block [0x00]. Never writes past dst + dstCap.
 */
export function lz4CompressBlock(src: usize, srcLen: i32, dst: usize, dstCap: i32): i32 {
  if (srcLen < 0 || srcLen > LZ4_MAX_INPUT_SIZE || dstCap <= 0) return 0;
  if (srcLen < U16_INPUT_LIMIT) return compressWith<u16>(src, srcLen, dst, dstCap);
  return compressWith<u32>(src, srcLen, dst, dstCap);
}

/**
 * Compresses `count` consecutive 4 KiB pages from `src`; page i goes to dst + i * dstStride with
 * capacity dstCap, and its lz4CompressBlock result (i32) to sizesOut + 4 * i.
 */
export function lz4CompressPages(src: usize, count: u32, dst: usize, dstStride: i32, dstCap: i32, sizesOut: usize): void {
  for (let i: u32 = 0; i < count; i++) {
    const size = lz4CompressBlock(src + <usize>i * PAGE_BYTES, <i32>PAGE_BYTES, dst + <usize>i * <usize>dstStride, dstCap);
    store<i32>(sizesOut + (<usize>i << 2), size);
  }
}

// ---------------------------------------------------------------------------------------------
// Decompressor

/** Copies a match of `len` bytes from `op - offset` (offset >= 1, op + len <= oend), LZ4 overlap semantics. */
@inline function copyMatch(op: usize, offset: usize, len: usize, oend: usize): void {
  let m = op - offset;
  const end = op + len;
  if (offset >= 16) {
    if (end + 16 <= oend) {
      wildCopy16(op, m, len);
      return;
    }
    while (op + 16 <= end) {
      v128.store(op, v128.load(m));
      op += 16;
      m += 16;
    }
  } else if (offset == 1) {
    memory.fill(op, load<u8>(m), len);
    return;
  } else {
    // Replicate the period byte by byte until the distance is a multiple of offset >= 16,
    // then copy in 16-byte chunks from that distance (the output is periodic).
    const period = offset * ((16 + offset - 1) / offset);
    const head = len < period ? len : period;
    const headEnd = op + head;
    while (op < headEnd) {
      store<u8>(op, load<u8>(m));
      op += 1;
      m += 1;
    }
    m = op - period;
    if (end + 16 <= oend) {
      while (op < end) {
        v128.store(op, v128.load(m));
        op += 16;
        m += 16;
      }
      return;
    }
    while (op + 16 <= end) {
      v128.store(op, v128.load(m));
      op += 16;
      m += 16;
    }
  }
  while (op < end) {
    store<u8>(op, load<u8>(m));
    op += 1;
    m += 1;
  }
}

/**
 * Decodes the LZ4 block [src, src + srcLen) into [dst, dst + dstCap). Returns the decoded length,
 * or a negative LZ4_ERROR_* code for a malformed block (the contents of dst are then unspecified).
 * Reads only inside the input and writes only inside the output, whatever the input; like liblz4,
 * the 16-byte copies may also overwrite bytes of dst past the decoded length (never past dstCap).
 *
 * Accepted: sequences whose literals and matches stay inside the buffers, offsets in
 * [1, bytes decoded so far], ending with a literal-only sequence that ends exactly at srcLen
 * (trailing bytes are an error, as in liblz4's LZ4_decompress_safe). Unlike liblz4 it rejects
 * offset 0 and does not reject a block whose last match ends within 5 bytes of dstCap (liblz4
 * holds every block to the compressor's end-of-block rules relative to dstCap, not to the data).
 */
export function lz4DecompressBlock(src: usize, srcLen: i32, dst: usize, dstCap: i32): i32 {
  if (srcLen < 0 || dstCap < 0) return LZ4_ERROR_BAD_ARGUMENT;
  if (srcLen == 0) return LZ4_ERROR_TRUNCATED;
  let ip = src;
  const iend = src + <usize>srcLen;
  let op = dst;
  const oend = dst + <usize>dstCap;
  // Fast path while ip + 16 < iend (16 literal bytes + offset readable) and op + 32 <= oend
  // (16 literal bytes and an 18-byte match writable); the limits are 0 (never true) otherwise.
  const fastIpEnd: usize = srcLen > 16 ? iend - 16 : 0;
  const fastOpEnd: usize = dstCap >= 32 ? oend - 31 : 0;

  while (true) {
    // Invariant: ip < iend.
    const token = <usize>load<u8>(ip);
    ip += 1;
    let litLen = token >> ML_BITS;
    let matchLen: usize;
    let offset: usize;
    if (litLen != RUN_MASK && ip < fastIpEnd && op < fastOpEnd) {
      // Short literals (not the last run: at least 3 input bytes follow them).
      v128.store(op, v128.load(ip));
      op += litLen;
      ip += litLen;
      offset = <usize>load<u16>(ip);
      ip += 2;
      matchLen = token & ML_MASK;
      if (matchLen != ML_MASK && offset >= 16 && offset <= op - dst) {
        // Short non-overlapping match: copy 18 bytes (op + 18 <= oend here); ip < iend still.
        const m = op - offset;
        v128.store(op, v128.load(m));
        store<u16>(op + 16, load<u16>(m + 16));
        op += matchLen + MIN_MATCH;
        continue;
      }
    } else {
      if (litLen == RUN_MASK) {
        let s: usize;
        do {
          if (ip >= iend) return LZ4_ERROR_TRUNCATED;
          s = <usize>load<u8>(ip);
          ip += 1;
          litLen += s;
          if (litLen > <usize>LZ4_MAX_INPUT_SIZE) return LZ4_ERROR_LENGTH_OVERFLOW;
        } while (s == 255);
      }
      const inLeft = iend - ip;
      if (litLen > inLeft) return LZ4_ERROR_LITERALS_PAST_INPUT;
      if (litLen > oend - op) return LZ4_ERROR_OUTPUT_OVERFLOW;
      if (litLen == inLeft) {
        // The last sequence: literals up to the end of the input.
        memory.copy(op, ip, litLen);
        op += litLen;
        return <i32>(op - dst);
      }
      if (litLen != 0) {
        if (litLen + 16 <= inLeft && op + litLen + 16 <= oend) {
          wildCopy16(op, ip, litLen);
        } else {
          memory.copy(op, ip, litLen);
        }
        op += litLen;
        ip += litLen;
      }
      if (iend - ip < 2) return LZ4_ERROR_TRUNCATED;
      offset = <usize>load<u16>(ip);
      ip += 2;
      matchLen = token & ML_MASK;
    }

    // General match.
    if (matchLen == ML_MASK) {
      let s: usize;
      do {
        if (ip >= iend) return LZ4_ERROR_TRUNCATED;
        s = <usize>load<u8>(ip);
        ip += 1;
        matchLen += s;
        if (matchLen > <usize>LZ4_MAX_INPUT_SIZE) return LZ4_ERROR_LENGTH_OVERFLOW;
      } while (s == 255);
    }
    matchLen += MIN_MATCH;
    if (offset == 0) return LZ4_ERROR_OFFSET_ZERO;
    if (offset > op - dst) return LZ4_ERROR_OFFSET_BEFORE_OUTPUT;
    if (matchLen > oend - op) return LZ4_ERROR_OUTPUT_OVERFLOW;
    if (ip >= iend) return LZ4_ERROR_TRUNCATED;
    copyMatch(op, offset, matchLen, oend);
    op += matchLen;
  }
  return 0; // unreachable
}

/**
 * Decodes `count` blocks: block i is at src + i * srcStride with size sizesIn[i] (i32) and goes to
 * the 4 KiB page dst + i * 4096 (dstCap 4096); its lz4DecompressBlock result (i32) goes to resultsOut + 4 * i.
 */
export function lz4DecompressPages(src: usize, count: u32, srcStride: i32, sizesIn: usize, dst: usize, resultsOut: usize): void {
  for (let i: u32 = 0; i < count; i++) {
    const size = load<i32>(sizesIn + (<usize>i << 2));
    const result = lz4DecompressBlock(src + <usize>i * <usize>srcStride, size, dst + <usize>i * PAGE_BYTES, <i32>PAGE_BYTES);
    store<i32>(resultsOut + (<usize>i << 2), result);
  }
}
