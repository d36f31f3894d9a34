// The compact binary trace format, version 1: a header with the VM table, then fixed-size
// little-endian records. Read and written in large blocks; never loaded whole.
//
//   header
//     0   8 bytes  magic "OVCTRACE"
//     8   u16      version (1)
//    10   u16      record size in bytes (24)
//    12   u32      header size in bytes, including the VM table (a multiple of 8)
//    16   u32      number of VMs
//    20   u32      reserved (0)
//    24   VM table, per VM: u32 pages | u16 name length | name (UTF-8) ... padded to 8 bytes
//   records, 24 bytes each
//     0   u32      time in simulated milliseconds (non-decreasing)
//     4   u16      VM index
//     6   u8       op (events.ts: touch 1, write 2, writeBytes 3, alloc 4, free 5, balloon 6,
//                  idle 7, active 8, io 9)
//     7   u8       flags (0)
//     8   u32      first GPN
//    12   u32      pages (the balloon target for balloon; 0 for idle/active)
//    16   u64      content seed (write); 0 otherwise
//   A writeBytes record is followed by the page's 4096 bytes in 171 record-sized slots (4104
//   bytes, the last 8 zero), so every record still starts at a multiple of 24 after the header.
import { open, type FileHandle } from "node:fs/promises";
import { BlockFileWriter } from "./file-writer.ts";
import { EventValidator, TraceChunk, TraceFormatError, TraceOp, type TraceHeader, type TraceOpCode, type TraceSource } from "./events.ts";

export const BINARY_MAGIC = "OVCTRACE";
export const BINARY_VERSION = 1;
export const RECORD_BYTES = 24;
const PAGE_BYTES = 4096;
/** Slots that follow a writeBytes record: ceil(4096 / 24). */
export const BYTES_SLOTS = Math.ceil(PAGE_BYTES / RECORD_BYTES);
const FIXED_HEADER_BYTES = 24;
const READ_BLOCK_RECORDS = 65536;
/** Records can be read as u32 words straight from the buffer on a little-endian machine. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeHeader(header: TraceHeader): Uint8Array {
  const encoder = new TextEncoder();
  const names = header.vms.map((vm) => encoder.encode(vm.name));
  let size = FIXED_HEADER_BYTES;
  for (const name of names) size += 6 + name.length;
  size = Math.ceil(size / 8) * 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(encoder.encode(BINARY_MAGIC), 0);
  view.setUint16(8, BINARY_VERSION, true);
  view.setUint16(10, RECORD_BYTES, true);
  view.setUint32(12, size, true);
  view.setUint32(16, header.vms.length, true);
  let at = FIXED_HEADER_BYTES;
  header.vms.forEach((vm, i) => {
    const name = names[i] ?? new Uint8Array(0);
    view.setUint32(at, vm.pages, true);
    view.setUint16(at + 4, name.length, true);
    out.set(name, at + 6);
    at += 6 + name.length;
  });
  return out;
}

async function readExactly(file: FileHandle, length: number, position: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(out, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return out.subarray(0, filled);
}

/** Reads and checks a binary trace's header. */
export async function readBinaryHeader(path: string): Promise<{ header: TraceHeader; headerBytes: number; totalBytes: number }> {
  const file = await open(path, "r").catch((cause: unknown) => {
    throw new TraceFormatError(path, "open", cause instanceof Error ? cause.message : String(cause));
  });
  try {
    const totalBytes = (await file.stat()).size;
    const fixed = await readExactly(file, FIXED_HEADER_BYTES, 0);
    if (fixed.length < FIXED_HEADER_BYTES) {
      throw new TraceFormatError(path, "byte offset 0", `truncated header: expected ${FIXED_HEADER_BYTES} bytes, found ${fixed.length}`);
    }
    const magic = new TextDecoder().decode(fixed.subarray(0, 8));
    if (magic !== BINARY_MAGIC) throw new TraceFormatError(path, "byte offset 0", `magic: expected "${BINARY_MAGIC}", found ${JSON.stringify(magic)} (not a binary trace)`);
    const view = new DataView(fixed.buffer, fixed.byteOffset, fixed.length);
    const version = view.getUint16(8, true);
    if (version !== BINARY_VERSION) throw new TraceFormatError(path, "byte offset 8", `version: expected ${BINARY_VERSION}, found ${version}`);
    const recordBytes = view.getUint16(10, true);
    if (recordBytes !== RECORD_BYTES) throw new TraceFormatError(path, "byte offset 10", `record size: expected ${RECORD_BYTES}, found ${recordBytes}`);
    const headerBytes = view.getUint32(12, true);
    const vmCount = view.getUint32(16, true);
    if (headerBytes < FIXED_HEADER_BYTES || headerBytes % 8 !== 0 || headerBytes > 64 * 1024 * 1024) {
      throw new TraceFormatError(path, "byte offset 12", `header size: expected a multiple of 8 from ${FIXED_HEADER_BYTES} to 64 MiB, found ${headerBytes}`);
    }
    if (vmCount > 65535 || vmCount * 6 > headerBytes - FIXED_HEADER_BYTES) {
      throw new TraceFormatError(path, "byte offset 16", `VM count: ${vmCount} VMs do not fit a header of ${headerBytes} bytes`);
    }
    const table = await readExactly(file, headerBytes - FIXED_HEADER_BYTES, FIXED_HEADER_BYTES);
    if (table.length < headerBytes - FIXED_HEADER_BYTES) {
      throw new TraceFormatError(path, `byte offset ${FIXED_HEADER_BYTES + table.length}`, `truncated VM table: the header says ${headerBytes} bytes`);
    }
    const tableView = new DataView(table.buffer, table.byteOffset, table.length);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    const vms: { name: string; pages: number }[] = [];
    let at = 0;
    for (let i = 0; i < vmCount; i++) {
      const where = `byte offset ${FIXED_HEADER_BYTES + at} (VM ${i})`;
      if (at + 6 > table.length) throw new TraceFormatError(path, where, "VM table: entry runs past the header");
      const pages = tableView.getUint32(at, true);
      const nameLength = tableView.getUint16(at + 4, true);
      if (at + 6 + nameLength > table.length) throw new TraceFormatError(path, where, `VM name: ${nameLength} bytes run past the header`);
      let name: string;
      try {
        name = decoder.decode(table.subarray(at + 6, at + 6 + nameLength));
      } catch {
        throw new TraceFormatError(path, where, "VM name: expected UTF-8 text");
      }
      if (pages === 0) throw new TraceFormatError(path, where, `VM pages: expected at least 1, found 0 for "${name}"`);
      vms.push({ name, pages });
      at += 6 + nameLength;
    }
    return { header: { vms }, headerBytes, totalBytes };
  } finally {
    await file.close();
  }
}

/** Opens a binary trace for streaming. */
export async function openBinaryTrace(path: string, chunkEvents = 65536): Promise<TraceSource> {
  const { header, headerBytes, totalBytes } = await readBinaryHeader(path);
  let bytesRead = headerBytes;
  const source: TraceSource = {
    path,
    format: "binary",
    header,
    totalBytes,
    get bytesRead() {
      return bytesRead;
    },
    async *chunks() {
      const file = await open(path, "r");
      const validator = new EventValidator(path, header, (where) => `byte offset ${where} (record ${(where - headerBytes) / RECORD_BYTES})`);
      const chunk = new TraceChunk(chunkEvents);
      const block = new Uint8Array(READ_BLOCK_RECORDS * RECORD_BYTES + PAGE_BYTES + RECORD_BYTES * 2);
      const view = new DataView(block.buffer);
      const words = new Uint32Array(block.buffer);
      let blockStart = headerBytes; // file offset of block[0]
      let have = 0; // valid bytes in block
      let at = 0; // next record's offset in block
      let recordIndex = 0;
      try {
        for (;;) {
          // Refill: keep the unread tail, read more after it.
          if (have - at < RECORD_BYTES * (BYTES_SLOTS + 1)) {
            block.copyWithin(0, at, have);
            blockStart += at;
            have -= at;
            at = 0;
            const { bytesRead: n } = await file.read(block, have, block.length - have, blockStart + have);
            have += n;
            bytesRead = blockStart + have;
            if (have === 0) break;
            if (n === 0 && have < RECORD_BYTES) {
              throw new TraceFormatError(path, `byte offset ${blockStart}`, `truncated: the file ends ${have} bytes into record ${recordIndex} (records are ${RECORD_BYTES} bytes)`);
            }
          }
          if (have - at < RECORD_BYTES) {
            if (have - at === 0) break;
            throw new TraceFormatError(path, `byte offset ${blockStart + at}`, `truncated: the file ends ${have - at} bytes into record ${recordIndex} (records are ${RECORD_BYTES} bytes)`);
          }
          const offset = at;
          let timeMs: number;
          let head: number;
          let gpn: number;
          let pages: number;
          let argLow: number;
          let argHigh: number;
          if (LITTLE_ENDIAN && offset % 4 === 0) {
            const w = offset >>> 2;
            timeMs = words[w] ?? 0;
            head = words[w + 1] ?? 0;
            gpn = words[w + 2] ?? 0;
            pages = words[w + 3] ?? 0;
            argLow = words[w + 4] ?? 0;
            argHigh = words[w + 5] ?? 0;
          } else {
            timeMs = view.getUint32(offset, true);
            head = view.getUint32(offset + 4, true);
            gpn = view.getUint32(offset + 8, true);
            pages = view.getUint32(offset + 12, true);
            argLow = view.getUint32(offset + 16, true);
            argHigh = view.getUint32(offset + 20, true);
          }
          const vm = head & 0xffff;
          const op = (head >>> 16) & 0xff;
          const flags = head >>> 24;
          const where = blockStart + offset;
          if (flags !== 0) throw new TraceFormatError(path, `byte offset ${where} (record ${recordIndex})`, `flags: expected 0, found ${flags}`);
          validator.check(where, timeMs, vm, op, gpn, pages);
          at += RECORD_BYTES;
          recordIndex++;
          let bytes: Uint8Array | undefined;
          if (op === TraceOp.writeBytes) {
            const need = BYTES_SLOTS * RECORD_BYTES;
            if (have - at < need) {
              throw new TraceFormatError(path, `byte offset ${where} (record ${recordIndex})`, `truncated: a writeBytes record needs ${PAGE_BYTES} bytes of page data after it, found ${have - at}`);
            }
            bytes = block.slice(at, at + PAGE_BYTES);
            at += need;
            recordIndex += BYTES_SLOTS;
          }
          chunk.push(timeMs, vm, op as TraceOpCode, gpn, pages, argLow, argHigh, bytes);
          if (chunk.full) {
            yield chunk;
            chunk.clear();
          }
        }
        if (chunk.count > 0) yield chunk;
      } finally {
        await file.close();
      }
    },
  };
  return source;
}

/** Writes a binary trace: header first, then events in large blocks. */
export class BinaryTraceWriter extends BlockFileWriter {
  private readonly view: DataView;

  constructor(
    path: string,
    readonly header: TraceHeader,
  ) {
    super(path, new Uint8Array(READ_BLOCK_RECORDS * RECORD_BYTES), encodeHeader(header));
    this.view = new DataView(this.block.buffer, this.block.byteOffset, this.block.byteLength);
  }

  writeEvent(timeMs: number, vm: number, op: number, gpn: number, pages: number, argLow = 0, argHigh = 0, bytes?: Uint8Array): void {
    if (timeMs > 0xffffffff) throw new RangeError(`time ${timeMs} ms does not fit the binary format's u32 milliseconds (about 49 days)`);
    this.room(RECORD_BYTES);
    const at = this.used;
    const v = this.view;
    v.setUint32(at, Math.round(timeMs), true);
    v.setUint32(at + 4, (vm & 0xffff) | ((op & 0xff) << 16), true);
    v.setUint32(at + 8, gpn >>> 0, true);
    v.setUint32(at + 12, pages >>> 0, true);
    v.setUint32(at + 16, argLow >>> 0, true);
    v.setUint32(at + 20, argHigh >>> 0, true);
    this.used += RECORD_BYTES;
    this.eventsWritten++;
    if (op === TraceOp.writeBytes) {
      if (!bytes || bytes.length !== PAGE_BYTES) throw new RangeError(`writeBytes: expected ${PAGE_BYTES} bytes of page data`);
      const need = BYTES_SLOTS * RECORD_BYTES;
      this.room(need);
      this.block.fill(0, this.used, this.used + need);
      this.block.set(bytes, this.used);
      this.used += need;
    }
  }

}
