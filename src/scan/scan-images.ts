// A sharing-scan job over memory images: each image becomes one VM, the scan runs until a full
// pass merges nothing, and the result reads like KSM's counters (sharedFrames = pages_shared,
// savedPages = pages_sharing) plus timing.
import { Machine, type ScanProgress } from "../core/machine.ts";
import { PageState } from "../core/abi.ts";
import { imageInfo, loadImage, type ImageInfo } from "../trace/image.ts";

export interface ImageScanOptions {
  /** Seeds the random scan order (the result is the same for every seed; the order is not). */
  seed?: bigint;
  /** Also count pages not shared away whose LZ4 block fits a 2048-byte cache slot. */
  compress?: boolean;
  /** At most this many pages share one frame (KSM's max_page_sharing). Default: unlimited. */
  maxPageSharing?: number;
  /** Also count, after convergence, the pages each pair of images shares (`pairShared`). */
  pairs?: boolean;
  onLoadProgress?: (image: number, pagesLoaded: number, imagePages: number) => void;
  onScanProgress?: (progress: ScanProgress) => void;
}

export interface ImageScanEntry {
  readonly path: string;
  readonly pages: number;
  readonly zeroPages: number;
  /** Pages of this image mapped to a frame shared with some other page (of any image). */
  readonly sharedPages: number;
  /** Pages whose content occurs nowhere else. */
  readonly privatePages: number;
  readonly compressiblePages?: number;
  /** With `pairs`: pages of this image mapped to a frame that a page of another image also maps. */
  readonly sharedWithOtherImages?: number;
}

export interface ImageScanReport {
  readonly pages: number;
  readonly zeroPages: number;
  /** Frames backing two or more guest pages (KSM pages_shared). */
  readonly sharedFrames: number;
  /** Guest pages mapped to shared frames beyond one per frame (KSM pages_sharing). */
  readonly savedPages: number;
  /** Distinct page contents: pages - savedPages. */
  readonly distinctPages: number;
  readonly scannedPages: number;
  readonly scanSeconds: number;
  readonly pagesPerSec: number;
  readonly firstPassPagesPerSec: number;
  readonly passes: number;
  readonly loadSeconds: number;
  readonly hashCollisions: number;
  readonly compressiblePages?: number;
  readonly seed: string;
  /** The limit of pages per shared frame, or null for unlimited. */
  readonly maxPageSharing: number | null;
  readonly images: readonly ImageScanEntry[];
  /**
   * With `pairs`: who shares with whom, after convergence, by the frames the pages map.
   * Off the diagonal, pairShared[i][j] = pages of image i mapped to a frame that some page of image
   * j also maps (a page counts once per other image on its frame, so a row can add up to more than
   * the image's shared pages; pairShared[i][j] and pairShared[j][i] differ when one image holds
   * several copies of a page). On the diagonal, pairShared[i][i] = pages of image i mapped to a
   * shared frame that no other image maps: copies within image i only. For every image,
   * pairShared[i][i] + sharedWithOtherImages = sharedPages.
   */
  readonly pairShared?: number[][];
}

/**
 * The pair matrix (see `ImageScanReport.pairShared`) and, per image, its pages on frames another
 * image maps too: one pass to list the images on each shared frame, one to count.
 */
export function pairSharing(machine: Machine, vms: number): { matrix: number[][]; withOthers: number[] } {
  const imagesOnFrame = new Map<number, number[]>();
  const sharedCode = PageState.shared;
  for (let vm = 0; vm < vms; vm++) {
    const pages = machine.vmPages(vm);
    for (let gpn = 0; gpn < pages; gpn++) {
      if (machine.pageStateCode(vm, gpn) !== sharedCode) continue;
      const frame = machine.pageInfo(vm, gpn).index;
      const images = imagesOnFrame.get(frame);
      if (!images) imagesOnFrame.set(frame, [vm]);
      else if (images[images.length - 1] !== vm) images.push(vm);
    }
  }
  const matrix = Array.from({ length: vms }, () => new Array<number>(vms).fill(0));
  const withOthers = new Array<number>(vms).fill(0);
  for (let vm = 0; vm < vms; vm++) {
    const row = matrix[vm] as number[];
    const pages = machine.vmPages(vm);
    for (let gpn = 0; gpn < pages; gpn++) {
      if (machine.pageStateCode(vm, gpn) !== sharedCode) continue;
      const images = imagesOnFrame.get(machine.pageInfo(vm, gpn).index) ?? [vm];
      if (images.length === 1) {
        row[vm] = (row[vm] ?? 0) + 1;
        continue;
      }
      withOthers[vm] = (withOthers[vm] ?? 0) + 1;
      for (const other of images) if (other !== vm) row[other] = (row[other] ?? 0) + 1;
    }
  }
  return { matrix, withOthers };
}

/** Loads every image (streamed) into its own VM of one machine and scans to convergence. */
export async function scanImages(paths: readonly string[], options: ImageScanOptions = {}): Promise<ImageScanReport> {
  const infos: ImageInfo[] = [];
  for (const path of paths) infos.push(await imageInfo(path));
  const totalPages = infos.reduce((sum, info) => sum + info.pages, 0);
  const machine = Machine.create({
    frames: Math.max(1, totalPages),
    maxVms: Math.max(1, infos.length),
    ...(options.maxPageSharing !== undefined ? { maxPageSharing: options.maxPageSharing } : {}),
  });
  try {
    const loadStarted = performance.now();
    for (const [index, info] of infos.entries()) {
      const vm = machine.addVm({ name: info.path, pages: info.pages });
      await loadImage(machine, vm, info, (loaded, total) => options.onLoadProgress?.(index, loaded, total));
    }
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    const seed = options.seed ?? 1n;
    const scan = machine.scanToConvergence({ seed, ...(options.onScanProgress ? { onProgress: options.onScanProgress } : {}) });
    const host = machine.hostCounters();
    const pairs = options.pairs ? pairSharing(machine, infos.length) : undefined;
    const images: ImageScanEntry[] = infos.map((info, vm) => {
      const counters = machine.vmCounters(vm);
      return {
        path: info.path,
        pages: info.pages,
        zeroPages: counters.zeroPages,
        sharedPages: counters.sharedPages,
        privatePages: counters.privatePages,
        ...(options.compress ? { compressiblePages: machine.compressiblePrivatePages(vm) } : {}),
        ...(pairs ? { sharedWithOtherImages: pairs.withOthers[vm] ?? 0 } : {}),
      };
    });
    const zeroPages = images.reduce((sum, image) => sum + image.zeroPages, 0);
    const compressiblePages = options.compress ? images.reduce((sum, image) => sum + (image.compressiblePages ?? 0), 0) : undefined;
    return {
      pages: totalPages,
      zeroPages,
      sharedFrames: host.sharedFrames,
      savedPages: host.savedPages,
      distinctPages: totalPages - host.savedPages,
      scannedPages: scan.scannedPages,
      scanSeconds: scan.scanSeconds,
      pagesPerSec: scan.scanSeconds > 0 ? scan.scannedPages / scan.scanSeconds : 0,
      firstPassPagesPerSec: scan.firstPassSeconds > 0 ? totalPages / scan.firstPassSeconds : 0,
      passes: scan.passes,
      loadSeconds,
      hashCollisions: host.hashCollisions,
      ...(compressiblePages !== undefined ? { compressiblePages } : {}),
      seed: seed.toString(),
      maxPageSharing: options.maxPageSharing ?? null,
      images,
      ...(pairs ? { pairShared: pairs.matrix } : {}),
    };
  } finally {
    machine.dispose();
  }
}
