// What the binary and JSON Lines trace writers share: a file opened for writing with its header,
// events encoded into one block that is written out whole when it fills and at close.
import { closeSync, openSync, writeSync } from "node:fs";
import type { TraceChunk, TraceEventWriter } from "./events.ts";

export abstract class BlockFileWriter implements TraceEventWriter {
  private fd: number | undefined;
  /** Bytes of `block` filled since the last flush. */
  protected used = 0;
  eventsWritten = 0;

  protected constructor(
    readonly path: string,
    protected readonly block: Uint8Array,
    header: Uint8Array | string,
  ) {
    this.fd = openSync(path, "w");
    const bytes = typeof header === "string" ? Buffer.from(header) : header;
    writeFully(this.fd, bytes, bytes.length);
  }

  abstract writeEvent(timeMs: number, vm: number, op: number, gpn: number, pages: number, argLow?: number, argHigh?: number, bytes?: Uint8Array): void;

  writeChunk(chunk: TraceChunk): void {
    chunk.writeTo(this);
  }

  /** Flushes first when fewer than `bytes` bytes of the block are free. */
  protected room(bytes: number): void {
    if (this.used + bytes > this.block.length) this.flush();
  }

  protected flush(): void {
    if (this.fd === undefined || this.used === 0) return;
    writeFully(this.fd, this.block, this.used);
    this.used = 0;
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Writes the first `length` bytes of `bytes`, however many calls writeSync takes. */
function writeFully(fd: number, bytes: Uint8Array, length: number): void {
  for (let at = 0; at < length; ) at += writeSync(fd, bytes, at, length - at);
}
