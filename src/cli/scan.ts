// `overcommit scan <image...>`: content-based page sharing over memory images until convergence.
import { basename } from "node:path";
import { scanImages, type ImageScanReport } from "../scan/scan-images.ts";
import { createProgress } from "./progress.ts";
import { formatInt, formatMiB, formatPercent, table } from "./format.ts";
import { scanDocument, shellLine } from "../report/build.ts";
import { writeAndAnnounce } from "./report.ts";

export interface ScanCommandOptions {
  json?: boolean;
  seed: bigint;
  compress?: boolean;
  maxPageSharing?: number;
  progress?: boolean;
  /** Write an HTML report (per-image bars and the pair-sharing matrix) here. */
  report?: string;
}

export function formatScanReport(report: ImageScanReport): string {
  const rows = report.images.map((image) => [
    basename(image.path),
    formatInt(image.pages),
    formatInt(image.zeroPages),
    formatInt(image.sharedPages),
    formatInt(image.privatePages),
    ...(image.compressiblePages !== undefined ? [formatInt(image.compressiblePages)] : []),
  ]);
  const header = ["image", "pages", "zero", "shared", "private", ...(report.compressiblePages !== undefined ? ["compressible"] : [])];
  const lines = [
    table(header, rows),
    "",
    `pages          ${formatInt(report.pages)} (${formatMiB(report.pages)})`,
    `zero pages     ${formatInt(report.zeroPages)}`,
    `shared frames  ${formatInt(report.sharedFrames)}   (frames backing 2+ pages; KSM pages_shared)`,
    `saved pages    ${formatInt(report.savedPages)} (${formatMiB(report.savedPages)}, ${formatPercent(report.savedPages, report.pages)} of all pages; KSM pages_sharing)`,
    `distinct       ${formatInt(report.distinctPages)}`,
  ];
  if (report.compressiblePages !== undefined) {
    lines.push(`compressible   ${formatInt(report.compressiblePages)} of the unshared pages fit a 2 KiB compression-cache slot`);
  }
  lines.push(
    `scan           ${report.passes} passes, ${formatInt(report.scannedPages)} pages in ${report.scanSeconds.toFixed(3)} s: ` +
      `${formatInt(report.pagesPerSec)} pages/s (first pass, every page hashed: ${formatInt(report.firstPassPagesPerSec)} pages/s)`,
    `seed           ${report.seed}`,
  );
  return lines.join("\n");
}

export async function runScanCommand(paths: readonly string[], options: ScanCommandOptions): Promise<ImageScanReport> {
  const progress = createProgress(options.progress ?? true);
  try {
    let loadingImage = -1;
    let scanPass = 0;
    const report = await scanImages(paths, {
      seed: options.seed,
      compress: options.compress ?? false,
      pairs: options.report !== undefined,
      ...(options.maxPageSharing !== undefined ? { maxPageSharing: options.maxPageSharing } : {}),
      onLoadProgress: (image, loaded, total) => {
        if (image !== loadingImage) {
          loadingImage = image;
          progress.start(`loading ${basename(paths[image] ?? "")}`, total, "pages");
        }
        progress.update(loaded);
      },
      onScanProgress: (p) => {
        if (p.pass !== scanPass) {
          scanPass = p.pass;
          progress.start(`scan pass ${p.pass}`, p.totalPages, "pages");
        }
        progress.update(p.scannedPages);
      },
    });
    progress.stop();
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else process.stdout.write(`${formatScanReport(report)}\n`);
    if (options.report !== undefined) {
      const command = shellLine([
        "overcommit", "scan", ...paths, "--seed", options.seed.toString(),
        ...(options.compress ? ["--compress"] : []),
        ...(options.maxPageSharing !== undefined ? ["--max-page-sharing", String(options.maxPageSharing)] : []),
      ]);
      await writeAndAnnounce(options.report, scanDocument(report, command), options.json ?? false);
    }
    return report;
  } finally {
    progress.stop();
  }
}
