// The sharing scan on real memory images is exact: its figures equal counts made independently
// (expected.json, counted outside this project, and a SHA-256 content count here).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compressSync } from "lz4-napi";
import { scanImages } from "../src/scan/scan-images.ts";
import { EXPECTED, IMAGE_NAMES, imageBytes, imagePath, type ImageName } from "./helpers/fixtures.ts";

const PAGE = 4096;

function contentCounts(names: readonly ImageName[]): Map<string, { count: number; bytes: Uint8Array }> {
  const counts = new Map<string, { count: number; bytes: Uint8Array }>();
  for (const name of names) {
    const bytes = imageBytes(name);
    for (let offset = 0; offset < bytes.length; offset += PAGE) {
      const page = bytes.subarray(offset, offset + PAGE);
      const key = createHash("sha256").update(page).digest("hex");
      const entry = counts.get(key);
      if (entry) entry.count++;
      else counts.set(key, { count: 1, bytes: page });
    }
  }
  return counts;
}

describe("scan of the sample images", () => {
  const sets: { key: string; names: ImageName[] }[] = [
    { key: "all", names: [...IMAGE_NAMES] },
    ...IMAGE_NAMES.map((name) => ({ key: name, names: [name] })),
    { key: "proc-tclsh-0.img+proc-tclsh-1.img", names: ["proc-tclsh-0.img", "proc-tclsh-1.img"] },
    { key: "proc-dash-0.img+proc-dash-1.img", names: ["proc-dash-0.img", "proc-dash-1.img"] },
  ];

  for (const { key, names } of sets) {
    it(`matches expected.json for ${key}`, async () => {
      const expected = EXPECTED[key];
      if (!expected) throw new Error(`expected.json has no entry ${key}`);
      const report = await scanImages(names.map(imagePath), { seed: 11n });
      expect({
        pages: report.pages,
        zeroPages: report.zeroPages,
        savedPages: report.savedPages,
        sharedFrames: report.sharedFrames,
        distinct: report.distinctPages,
      }).toEqual({
        pages: expected.pages,
        zeroPages: expected.zeroPages,
        savedPages: expected.savedPages,
        sharedFrames: expected.sharedFrames,
        distinct: expected.distinct,
      });
    });
  }

  it("equals an independent SHA-256 count of distinct contents, whatever the scan order", async () => {
    const counts = contentCounts(IMAGE_NAMES);
    const pages = [...counts.values()].reduce((sum, entry) => sum + entry.count, 0);
    const sharedContents = [...counts.values()].filter((entry) => entry.count >= 2).length;
    for (const seed of [1n, 2n, 0xdeadbeefn]) {
      const report = await scanImages(IMAGE_NAMES.map(imagePath), { seed });
      expect(report.savedPages).toBe(pages - counts.size);
      expect(report.sharedFrames).toBe(sharedContents);
      expect(report.passes).toBe(2); // the first pass merges everything, the second confirms
      expect(report.hashCollisions).toBe(0);
    }
  });

  it("with --max-page-sharing splits a content into full frames of at most N pages, like KSM's chains", async () => {
    const counts = contentCounts(IMAGE_NAMES);
    for (const limit of [2, 3, 256]) {
      let frames = 0;
      let saved = 0;
      for (const { count } of counts.values()) {
        const full = Math.floor(count / limit);
        const rest = count % limit;
        const contentFrames = full + (rest >= 2 ? 1 : 0);
        frames += contentFrames;
        saved += full * (limit - 1) + (rest >= 2 ? rest - 1 : 0);
      }
      const report = await scanImages(IMAGE_NAMES.map(imagePath), { seed: 3n, maxPageSharing: limit });
      expect({ limit, sharedFrames: report.sharedFrames, savedPages: report.savedPages }).toEqual({ limit, sharedFrames: frames, savedPages: saved });
    }
  });

  it("counts compressible unshared pages like an independent LZ4 compressor, within a few pages", async () => {
    const counts = contentCounts(IMAGE_NAMES);
    let lz4NapiCompressible = 0;
    for (const entry of counts.values()) {
      // lz4-napi prepends a 4-byte size to the block
      if (entry.count === 1 && compressSync(Buffer.from(entry.bytes)).length - 4 <= 2048) lz4NapiCompressible++;
    }
    const report = await scanImages(IMAGE_NAMES.map(imagePath), { compress: true });
    const reference = EXPECTED.all?.compressibleUnshared ?? 0;
    expect(report.compressiblePages).toBeDefined();
    const ours = report.compressiblePages ?? 0;
    // Different correct LZ4 compressors differ by a few pages near the 2048-byte line.
    expect(Math.abs(ours - reference)).toBeLessThanOrEqual(Math.ceil(reference * 0.01));
    expect(Math.abs(ours - lz4NapiCompressible)).toBeLessThanOrEqual(Math.ceil(reference * 0.01));
  });
});
