// Raw memory images as VM content: flat files of whole 4096-byte pages with no header (QEMU
// `pmemsave` output, a `.vmem`, a process dump), optionally gzip-compressed. Always streamed into
// the machine in chunks, never read whole.
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { PAGE_BYTES } from "../core/abi.ts";
import { ImageFormatError, OutOfFramesError } from "../core/errors.ts";
import type { Machine } from "../core/machine.ts";

export interface ImageInfo {
  readonly path: string;
  readonly pages: number;
  readonly bytes: number;
  readonly gzip: boolean;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

async function readAt(path: string, position: number, length: number): Promise<Uint8Array> {
  const file = await open(path, "r");
  try {
    const out = new Uint8Array(length);
    const { bytesRead } = await file.read(out, 0, length, position);
    return out.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Size in pages of an image, checked: it must be whole 4 KiB pages. For gzip files the size comes
 * from the gzip trailer (images up to 4 GiB uncompressed) and is checked again while streaming.
 */
export async function imageInfo(path: string): Promise<ImageInfo> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ImageFormatError(path, "not a regular file");
    size = info.size;
  } catch (error) {
    if (error instanceof ImageFormatError) throw error;
    throw new ImageFormatError(path, `cannot read: ${error instanceof Error ? error.message : String(error)}`);
  }
  const head = size >= 2 ? await readAt(path, 0, 2) : new Uint8Array(0);
  const gzip = head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  let bytes = size;
  if (gzip) {
    if (size < 18) throw new ImageFormatError(path, `gzip file of ${size} bytes is truncated (a gzip member is at least 18 bytes)`);
    const trailer = await readAt(path, size - 4, 4);
    bytes = new DataView(trailer.buffer, trailer.byteOffset, 4).getUint32(0, true);
  }
  if (bytes === 0) throw new ImageFormatError(path, "is empty: expected at least one 4096-byte page");
  if (bytes % PAGE_BYTES !== 0) {
    throw new ImageFormatError(
      path,
      `${gzip ? "uncompressed size" : "size"} ${bytes} bytes is not a multiple of ${PAGE_BYTES}: a raw image is whole 4 KiB pages (${bytes % PAGE_BYTES} bytes left over)`,
    );
  }
  return { path, pages: bytes / PAGE_BYTES, bytes, gzip };
}

/**
 * Streams an image into `vm` from GPN 0. Raw files are read straight into the core's staging
 * buffer; gzip files are decompressed as a stream. Returns the pages loaded.
 */
export async function loadImage(
  machine: Machine,
  vm: number,
  info: ImageInfo,
  onProgress?: (pagesLoaded: number, totalPages: number) => void,
): Promise<number> {
  if (!info.gzip) return machine.loadImage(vm, info.path, onProgress);
  const chunkBytes = 256 * PAGE_BYTES;
  const pending = new Uint8Array(chunkBytes);
  let pendingBytes = 0;
  let loadedPages = 0;
  const flush = (bytes: Uint8Array): void => {
    const pages = bytes.length / PAGE_BYTES;
    if (loadedPages + pages > info.pages) {
      throw new ImageFormatError(info.path, `decompresses to more than the ${info.bytes} bytes its gzip trailer states (gzip images over 4 GiB are not supported)`);
    }
    const result = machine.loadPages(vm, loadedPages, bytes);
    if (result.stop !== "none") {
      throw new OutOfFramesError(`loading ${info.path}: machine memory ran out at page ${loadedPages + result.completed} of ${info.pages}`);
    }
    loadedPages += pages;
    onProgress?.(loadedPages, info.pages);
  };
  const stream = createReadStream(info.path).pipe(createGunzip());
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(chunk.length - offset, chunkBytes - pendingBytes);
        pending.set(chunk.subarray(offset, offset + take), pendingBytes);
        pendingBytes += take;
        offset += take;
        if (pendingBytes === chunkBytes) {
          flush(pending);
          pendingBytes = 0;
        }
      }
    }
  } catch (error) {
    if (error instanceof ImageFormatError || error instanceof OutOfFramesError) throw error;
    throw new ImageFormatError(info.path, `gzip stream is corrupt or truncated after ${loadedPages * PAGE_BYTES + pendingBytes} bytes: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (pendingBytes % PAGE_BYTES !== 0) {
    throw new ImageFormatError(info.path, `decompressed size ${loadedPages * PAGE_BYTES + pendingBytes} bytes is not a multiple of ${PAGE_BYTES}`);
  }
  if (pendingBytes > 0) flush(pending.subarray(0, pendingBytes));
  if (loadedPages !== info.pages) {
    throw new ImageFormatError(info.path, `decompressed to ${loadedPages * PAGE_BYTES} bytes, but its gzip trailer states ${info.bytes}`);
  }
  return loadedPages;
}
