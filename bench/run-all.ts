// `npm run bench`: runs every bench/*.bench.ts (each compares us with peers in the same run) and
// ends with one table: each measurement, our figure, each peer's, the ratio, and the target.
//   npm run bench                 everything
//   npm run bench -- scan lz4     only benches whose file name contains one of the words
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatRows } from "./report.ts";
import type { BenchRow } from "./types.ts";

const dir = fileURLToPath(new URL(".", import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((word) => f.includes(word)))
  .sort();

const all: { file: string; rows: BenchRow[] }[] = [];
for (const file of files) {
  process.stderr.write(`running bench/${file} ...\n`);
  const started = performance.now();
  const module = (await import(pathToFileURL(`${dir}${file}`).href)) as { run?: () => Promise<BenchRow[]> };
  if (typeof module.run !== "function") {
    process.stderr.write(`  bench/${file} exports no run(): skipped\n`);
    continue;
  }
  const rows = await module.run();
  process.stderr.write(`  ${rows.length} measurements in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  all.push({ file, rows });
}

process.stdout.write("\n== overcommit benchmarks: ours vs peers, same run (ratio = ours / peer) ==\n\n");
for (const { file, rows } of all) {
  process.stdout.write(`-- ${file}\n${formatRows(rows)}\n\n`);
}
