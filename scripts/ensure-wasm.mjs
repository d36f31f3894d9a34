// Builds build/core.wasm (and the debug build) when it is missing or older than its sources,
// so `npm start`, `npm test` and `npm run bench` work straight after `npm install`.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const outputs = ["build/core.wasm", "build/core.debug.wasm"].map((p) => join(root, p));

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const ms = entry.isDirectory() ? newestSourceMs(path) : statSync(path).mtimeMs;
    if (ms > newest) newest = ms;
  }
  return newest;
}

const sourcesMs = Math.max(newestSourceMs(join(root, "assembly")), statSync(join(root, "asconfig.json")).mtimeMs);
const stale = outputs.some((p) => !existsSync(p) || statSync(p).mtimeMs < sourcesMs);
if (stale) {
  process.stderr.write("building build/core.wasm from assembly/ ...\n");
  execFileSync("npx", ["asc", "assembly/index.ts", "--target", "release"], { cwd: root, stdio: "inherit" });
  execFileSync("npx", ["asc", "assembly/index.ts", "--target", "debug"], { cwd: root, stdio: "inherit" });
}
