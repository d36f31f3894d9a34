// The browser bundle (dist/browser.js) in a real browser: Debian's Chromium, headless, driven by
// playwright-core. The library runs in a module Web Worker (browsers refuse to compile a WASM
// module of this size synchronously on the main thread; a worker is where a simulation belongs
// anyway): a Machine shares pages, a Host runs a small scenario with ballooning and swap kept in
// memory, all from a page served on loopback.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const profile = mkdtempSync(join(tmpdir(), "overcommit-bundle-profile-"));
let server: Server;
let port = 0;
let context: BrowserContext;

const WORKER = `
import { Machine, Host } from "/dist/browser.js";
const m = Machine.create({ memoryMiB: 8 });
const vm = m.addVm({ pages: 256 });
for (let i = 0; i < 100; i++) m.writeSeed(vm, i, BigInt(1 + (i % 10)));
m.scanToConvergence();
const saved = m.hostCounters().savedPages;
const page = m.readPage(vm, 3);
m.dispose();
const host = Host.fromScenario({ durationSec: 240, host: { memoryMiB: 24 }, vms: [{ name: "a", memoryMiB: 16 }, { name: "b", memoryMiB: 16 }],
  timeline: [{ atSec: 0, vm: "a", action: "boot", MiB: 4 }, { atSec: 2, vm: "a", action: "grow", toMiB: 14, rateMiBPerSec: 2 },
             { atSec: 20, vm: "b", action: "boot", MiB: 4 }, { atSec: 22, vm: "b", action: "grow", toMiB: 14, rateMiBPerSec: 2 }] });
const states = new Set();
host.on("state", (e) => states.add(e.to));
host.run(240);
const summary = host.vmSummary(0);
const swappedOrBallooned = host.vmNames.some((_, i) => host.vmSummary(i).balloonMiB + host.vmSummary(i).swappedMiB + host.vmSummary(i).compressedMiB > 0);
host.dispose();
postMessage({ saved, firstBytes: Array.from(page.subarray(0, 4)), states: [...states], consumed: summary.consumedMiB, swappedOrBallooned });
`;

const PAGE = `<!doctype html><meta charset="utf-8"><title>bundle</title><script type="module">
const worker = new Worker("/worker.js", { type: "module" });
worker.onmessage = (e) => { window.__result = e.data; };
worker.onerror = (e) => { window.__error = String(e.message || e); };
</script>`;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does it in CI`);
  execFileSync(process.execPath, ["scripts/build.mjs", "--browser-only"], { stdio: "ignore" });
  server = createServer((request, response) => {
    const url = request.url ?? "/";
    const send = (type: string, body: string | Buffer): void => {
      response.writeHead(200, { "content-type": type });
      response.end(body);
    };
    if (url === "/") send("text/html", PAGE);
    else if (url === "/worker.js") send("text/javascript", WORKER);
    else if (url === "/dist/browser.js") send("text/javascript", readFileSync("dist/browser.js"));
    else if (url === "/favicon.ico") send("image/x-icon", "");
    else {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
  context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
}, 120_000);

afterAll(async () => {
  await context?.close();
  server?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe("browser bundle", () => {
  it("runs a Machine and a Host in a browser worker", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => (window as unknown as { __result?: unknown; __error?: unknown }).__result !== undefined || (window as unknown as { __error?: unknown }).__error !== undefined, undefined, { timeout: 60_000 });
    const error = await page.evaluate(() => (window as unknown as { __error?: string }).__error);
    expect(error).toBeUndefined();
    const result = (await page.evaluate(() => (window as unknown as { __result: unknown }).__result)) as { saved: number; firstBytes: number[]; states: string[]; consumed: number; swappedOrBallooned: boolean };
    expect(errors).toEqual([]);
    expect(result.saved).toBe(90); // 100 pages of 10 contents
    expect(result.firstBytes.some((b) => b !== 0)).toBe(true);
    expect(result.states.length).toBeGreaterThan(0);
    expect(result.swappedOrBallooned).toBe(true);
    await page.close();
  }, 120_000);
});
