// `npm run build`: the WASM core (asc, release and debug), then the packaged build in dist/:
//   dist/index.js         the library (ESM, Node), the WASM core inlined
//   dist/cli.js           the `overcommit` command
//   dist/sweep-worker.js  the worker thread of `overcommit sweep`
//   dist/browser.js       the library for browsers (memory swap; no files, no workers)
//   dist/types/           .d.ts declarations of the library
// `node scripts/build.mjs --browser-only` builds just dist/browser.js (the browser-bundle test).
// Dependencies stay external (npm installs them with the package); the WASM bytes are inlined.
import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

const browserOnly = process.argv.includes("--browser-only");
run("node", ["scripts/ensure-wasm.mjs"]);
if (!browserOnly) rmSync(join(root, "dist"), { recursive: true, force: true });

/** Swaps a module for another when bundling (e.g. the WASM file reader for the inlined bytes). */
function replaceModule(name, pattern, replacement) {
  return {
    name,
    setup(b) {
      b.onResolve({ filter: pattern }, () => ({ path: join(root, replacement) }));
    },
  };
}

/** In the browser bundle, Node's modules become stubs that throw "Node-only" when used. */
const nodeStubs = {
  name: "node-stubs",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: "node-stub" }));
    b.onLoad({ filter: /.*/, namespace: "node-stub" }, (args) => ({
      contents: `module.exports = new Proxy({}, { get(_, name) {
        if (name === "__esModule") return false;
        return () => { throw new Error(${JSON.stringify(args.path)} + "." + String(name) + " is Node-only: not available in the browser build"); };
      } });`,
      loader: "js",
    }));
  },
};

const common = {
  bundle: true,
  format: "esm",
  target: "es2022",
  sourcemap: true,
  loader: { ".wasm": "binary" },
  logLevel: "warning",
};
const inlineWasm = replaceModule("inline-wasm", /\/wasm-binary\.ts$/, "src/core/wasm-binary.inline.ts");

if (!browserOnly) await build({
  ...common,
  entryPoints: { index: "src/index.ts", cli: "src/cli/main.ts", "sweep-worker": "src/sim/sweep-worker.ts" },
  outdir: "dist",
  platform: "node",
  packages: "external",
  plugins: [inlineWasm],
});
// The bin keeps src/cli/main.ts's shebang (esbuild preserves it); make it executable.
if (!browserOnly) chmodSync(join(root, "dist/cli.js"), 0o755);

await build({
  ...common,
  entryPoints: { browser: "src/browser.ts" },
  outdir: "dist",
  platform: "browser",
  plugins: [replaceModule("browser-platform", /\/platform\.ts$/, "src/core/platform.browser.ts"), inlineWasm, nodeStubs],
});

if (browserOnly) {
  process.stderr.write("built dist/browser.js\n");
  process.exit(0);
}
// Declarations: tsc emits them; relative ".ts" specifiers become ".js" so any consumer resolves them.
run("npx", ["tsc", "-p", "tsconfig.build.json"]);
function rewrite(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) rewrite(path);
    else if (path.endsWith(".d.ts")) {
      writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+["'])(\.{1,2}\/[^"']+)\.ts(["'])/g, "$1$2.js$3").replace(/(import\(["'])(\.{1,2}\/[^"']+)\.ts(["']\))/g, "$1$2.js$3"));
    }
  }
}
rewrite(join(root, "dist/types"));
process.stderr.write("built dist/index.js, dist/cli.js, dist/sweep-worker.js, dist/browser.js and dist/types/\n");
