// What every browser test of the console shares (run by ctest,
// tests/console.cmake): its command line, a real `clover demo` kept serving
// after its summary, Debian's chromium through playwright-core, checks
// counted as they go, axe-core, and the way out (exit 0 only when every
// check passed).
//   node X.spec.mjs --clover BIN --out DIR --data-dir DIR [--config FILE]
//                   [--chromium PATH]
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const started = Date.now();
let failures = 0;

export function options(defaultDataDir) {
  const args = process.argv.slice(2);
  const arg = (n, d) => (args.indexOf(n) >= 0 ? args[args.indexOf(n) + 1] : d);
  const o = {
    clover: arg("--clover"),
    out: path.resolve(arg("--out", "console-screenshots")),
    dataDir: path.resolve(arg("--data-dir", defaultDataDir)),
    config: arg("--config", "examples/deployment.yaml"),
    browserPath: arg("--chromium", "/usr/bin/chromium"),
  };
  if (!o.clover) throw new Error("--clover BIN is required");
  fs.mkdirSync(o.out, { recursive: true });
  return o;
}

export const log = (m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${m}`);

export function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures++;
}

export function fail(e) {
  failures++;
  console.log(`FAIL ${e.stack ?? e}`);
}

// Starts `clover demo` on random loopback ports (with `extra` arguments) and
// resolves to { demo, summary } once its JSON summary is out.
export async function startDemo(o, extra = []) {
  const port = 20000 + Math.floor(Math.random() * 12000);
  const demo = spawn(o.clover, ["demo", "--config", o.config, "--data-dir", o.dataDir, "--base-port", String(port),
    "--duration", "600", "--json", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  let stderrTail = "";
  demo.stderr.on("data", (d) => { stderrTail = (stderrTail + d).slice(-4000); });
  const summary = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("demo gave no summary within 240 s")), 240e3);
    demo.stdout.on("data", (d) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        try { resolve(JSON.parse(buf.slice(0, nl))); } catch (e) { reject(e); }
      }
    });
    demo.on("exit", (code) => { clearTimeout(timer); reject(new Error(`demo exited ${code}: ${stderrTail}`)); });
  });
  return { demo, summary };
}

export function launchBrowser(o) {
  return chromium.launch({
    executablePath: o.browserPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
}

export const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// Runs axe-core on what `page` shows (its context must bypass the CSP, which
// rightly forbids injecting the script) and checks no serious or critical
// violation.
export async function checkAxe(page, name) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `axe: ${name}: no serious violation` +
    (serious.length ? ` (${serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(" ")}`).join("; ")})` : ""));
}

// Closes the browser, stops the demo and exits with the verdict.
export async function finish(browser, demo, o) {
  await browser.close();
  demo.kill("SIGTERM");
  await new Promise((r) => { if (demo.exitCode !== null) r(); else demo.on("exit", r); setTimeout(r, 30e3); });
  log(`${failures === 0 ? "PASS" : `FAIL (${failures})`}; screenshots in ${o.out}`);
  process.exit(failures === 0 ? 0 : 1);
}

// Checks that what `page` shows needs no horizontal scrolling on a phone
// (390 px wide), naming the widest elements when it does; `shot` (a file
// path) keeps a screenshot at that width.
export async function checkPhoneWidth(page, name, shot) {
  await page.setViewportSize({ width: 390, height: 844 });
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  const overflow = await page.evaluate(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth + 1) return "";
    const wide = [...document.querySelectorAll("main *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1);
    return wide.slice(-3).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`).join(", ") || "the page";
  });
  check(!overflow, `${name}: no horizontal scrolling at 390 px${overflow ? ` (${overflow})` : ""}`);
  await page.setViewportSize({ width: 1280, height: 900 });
}
