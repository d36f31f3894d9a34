// Paths to the sample memory images (gzip-compressed copies of ../shared/images) and their
// independently counted expected figures.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

export const IMAGES_DIR = fileURLToPath(new URL("../fixtures/images/", import.meta.url));

export const IMAGE_NAMES = ["proc-dash-0.img", "proc-dash-1.img", "proc-mawk-0.img", "proc-tclsh-0.img", "proc-tclsh-1.img"] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

export interface ExpectedFigures {
  pages: number;
  zeroPages: number;
  distinct: number;
  savedPages: number;
  sharedFrames: number;
  compressibleUnshared?: number;
}

export const EXPECTED = JSON.parse(readFileSync(`${IMAGES_DIR}expected.json`, "utf8")) as Record<string, ExpectedFigures>;

export function imagePath(name: ImageName): string {
  return `${IMAGES_DIR}${name}.gz`;
}

/** The uncompressed bytes of a fixture image (for independent counting in tests). */
export function imageBytes(name: ImageName): Uint8Array {
  return new Uint8Array(gunzipSync(readFileSync(imagePath(name))));
}
