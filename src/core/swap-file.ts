// A VM's host swap file: a real file on disk with one 4 KiB slot per guest page, preallocated by
// size (sparse until written), with a stack of free slots handing out the lowest numbers first.
// The core never touches files: it copies pages to and from staging, and this class moves staging
// bytes to and from the file.
import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { PAGE_BYTES } from "./abi.ts";
import { SwapIoError } from "./errors.ts";
import { SlottedSwap } from "./swap-store.ts";

export class SwapFile extends SlottedSwap {
  readonly path: string;
  private fd: number | undefined;

  constructor(path: string, slots: number) {
    super(slots);
    this.path = path;
    try {
      this.fd = openSync(path, "w+");
      ftruncateSync(this.fd, slots * PAGE_BYTES);
    } catch (cause) {
      throw new SwapIoError(`cannot create swap file ${path} of ${slots} slots (${slots * PAGE_BYTES} bytes)`, cause);
    }
  }

  write(slot: number, bytes: Uint8Array): void {
    const fd = this.openFd();
    try {
      const length = bytes.length - (bytes.length % PAGE_BYTES);
      const written = writeSync(fd, bytes, 0, length, slot * PAGE_BYTES);
      if (written !== length) throw new Error(`short write: ${written} of ${length} bytes`);
    } catch (cause) {
      throw new SwapIoError(`cannot write slot ${slot} of swap file ${this.path}`, cause);
    }
  }

  read(slot: number, into: Uint8Array): void {
    const fd = this.openFd();
    try {
      const read = readSync(fd, into, 0, PAGE_BYTES, slot * PAGE_BYTES);
      if (read !== PAGE_BYTES) throw new Error(`short read: ${read} of ${PAGE_BYTES} bytes`);
    } catch (cause) {
      throw new SwapIoError(`cannot read slot ${slot} of swap file ${this.path}`, cause);
    }
  }

  /** Closes the file and deletes it. */
  dispose(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }

  private openFd(): number {
    if (this.fd === undefined) throw new SwapIoError(`swap file ${this.path} is closed`);
    return this.fd;
  }
}
