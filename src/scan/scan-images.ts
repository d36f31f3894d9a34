// A sharing-scan job over memory images: each image becomes one VM, the scan runs until a full
// pass merges nothing, and the result reads like KSM's counters (sharedFrames = pages_shared,
// savedPages = pages_sharing) plus timing.
import { Machine, type ScanProgress } from "../core/machine.ts";
import { imageInfo, loadImage, type ImageInfo } from "../trace/image.ts";

export interface ImageScanOptions {
  /** Seeds the random scan order (the result is the same for every seed; the order is not). */
  seed?: bigint;
  /** Also count pages not shared away whose LZ4 block fits a 2048-byte cache slot. */
  compress?: boolean;
  /** At most this many pages share one frame (KSM's max_page_sharing). Default: unlimited. */
  maxPageSharing?: number;
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
    const images: ImageScanEntry[] = infos.map((info, vm) => {
      const counters = machine.vmCounters(vm);
      return {
        path: info.path,
        pages: info.pages,
        zeroPages: counters.zeroPages,
        sharedPages: counters.sharedPages,
        privatePages: counters.privatePages,
        ...(options.compress ? { compressiblePages: machine.compressiblePrivatePages(vm) } : {}),
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
    };
  } finally {
    machine.dispose();
  }
}
