// Content-based page sharing over real memory images (raw 4 KiB pages, here gzip copies of idle
// Linux processes): KSM-style figures. Run: npx tsx examples/scan-images.ts [image...]
import { fileURLToPath } from "node:url";
import { scanImages } from "overcommit";

const images = process.argv.slice(2);
const paths = images.length > 0 ? images : ["proc-tclsh-0.img.gz", "proc-tclsh-1.img.gz"].map((f) => fileURLToPath(new URL(`../test/fixtures/images/${f}`, import.meta.url)));
const report = await scanImages(paths, { seed: 1n, compress: true });
console.log(`${report.pages} pages, ${report.zeroPages} zero, ${report.sharedFrames} shared frames (KSM pages_shared), ${report.savedPages} saved (pages_sharing)`);
console.log(`${report.compressiblePages} unshared pages compress to 2 KiB or less; scan ${Math.round(report.pagesPerSec).toLocaleString("en-US")} pages/s`);
