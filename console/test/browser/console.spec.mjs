// The web console in a real browser (issue 22), run by ctest (tests/console.cmake):
// starts a real `clover demo` deployment on loopback ports, drives Debian's
// chromium with playwright-core, and checks: the public page without login;
// no data before login; login; the demo's incidents; acknowledge and resolve
// one (checked through the API); the flows chart; a proof verified in the
// browser and a tampered entry and proof rejected; an axe-core pass on every
// page (no serious or critical violation); no CSP violation. Screenshots of
// every page go to --out.
//   node console.spec.mjs --clover BIN --out DIR --data-dir DIR [--config FILE]
import path from "node:path";
import { check, checkAxe, checkPhoneWidth, fail, finish, launchBrowser, log, options, startDemo } from "./harness.mjs";

const o = options("console-demo-data");
const { out, dataDir } = o;


// The demo deployment, kept serving after its summary.
const { demo, summary } = await startDemo(o);
log(`demo up: ${summary.incidents.length} incidents, auditor ${summary.auditor_api.url}`);
const base = summary.auditor_api.url.replace(/\/$/, "");
const token = summary.auditor_api.admin_token;

const browser = await launchBrowser(o);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspErrors = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  page.on("pageerror", (e) => cspErrors.push(`page error: ${e.message}`));
  // axe runs in a second context that may inject its script (the console's
  // CSP forbids that, rightly); it sees the same pages with the same cookie.
  const axeContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const axePage = await axeContext.newPage();
  async function axe(route, name, ready) {
    await axePage.goto(`${base}/ui/#${route}`);
    await axePage.locator(ready).first().waitFor();
    await checkAxe(axePage, name);
  }
  const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

  // The public page needs no login and names nobody.
  await page.goto(`${base}/ui/#/public`);
  await page.locator("#public-incidents tbody tr").first().waitFor();
  const pubText = await page.locator("main").innerText();
  check(/critical/.test(pubText) && (await page.locator("#public-accesses tbody tr").count()) > 0,
    "public page: counts and incidents by severity without login");
  check(!/us-legal-1|eu-support|cn-engineer/.test(pubText), "public page: no staff identity");
  await shot("public");
  await axe("/public", "public", "#public-incidents tbody tr");

  // No data before login.
  const anon = await page.request.get(`${base}/v1/incidents`);
  check(anon.status() === 401, "no session: /v1/incidents is 401");
  await page.goto(`${base}/ui/#/overview`);
  await page.locator("#token").waitFor();
  await shot("login");
  await axe("/login", "login", "#token");
  await page.fill("#token", "not-the-token-0123456789");
  await page.click("button[type=submit]");
  await page.locator(".error").waitFor();
  check(true, "a wrong credential is refused");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.getByRole("heading", { name: "Logs followed" }).waitFor();
  await page.locator("main table tbody tr").first().waitFor();
  const logsRows = await page.locator("main table tbody tr").count();
  check(logsRows === summary.nodes.length, `overview: ${logsRows} logs followed (demo: ${summary.nodes.length})`);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "clover_session");
  check(session && session.httpOnly && session.sameSite === "Strict", "session cookie is HttpOnly, SameSite=Strict");
  await shot("overview");
  // The axe context logs in with the login link `clover demo` prints; the
  // token leaves the address bar.
  check(summary.auditor_api.console_login_url === `${base}/ui/#/login?token=${token}`, "demo prints the console's login link");
  await axePage.goto(summary.auditor_api.console_login_url);
  await axePage.getByRole("heading", { name: "Logs followed" }).waitFor();
  check(!axePage.url().includes(token), "login link: the token is removed from the address bar");
  await axe("/overview", "overview", "main table tbody tr");
  // Readable on a phone.
  await checkPhoneWidth(page, "overview", path.join(out, "overview-phone.png"));

  // The demo's incidents.
  await page.goto(`${base}/ui/#/incidents`);
  await page.locator("main table tbody tr").first().waitFor();
  const rows = await page.locator("main table tbody tr").count();
  check(rows === summary.incidents.length && rows >= 3, `incidents: ${rows} listed (demo raised ${summary.incidents.length})`);
  const listText = await page.locator("main table").innerText();
  for (const i of summary.incidents) check(listText.includes(i.detector), `incidents: ${i.detector} listed`);
  await shot("incidents");
  await axe("/incidents", "incidents", "main table tbody tr");
  await page.selectOption("#f-sev", "critical");
  const critical = summary.incidents.filter((i) => i.severity === "critical").length;
  // The auditor filters (server-side): wait for its answer.
  await page.waitForFunction((n) => document.querySelectorAll("main table tbody tr").length === n, critical, { timeout: 5000 }).catch(() => {});
  check((await page.locator("main table tbody tr").count()) === critical, `filter by severity: ${critical} critical`);
  await page.selectOption("#f-sev", "");

  // Acknowledge and resolve one.
  const target = summary.incidents.find((i) => i.detector === "bulk_access") ?? summary.incidents[0];
  await page.goto(`${base}/ui/#/incidents/${target.id}`);
  await page.locator("#incident-status").waitFor();
  await page.fill("#incident-note", "looking into it");
  await page.getByRole("button", { name: "Acknowledge" }).click();
  await page.locator("#incident-status", { hasText: "acknowledged" }).waitFor();
  await page.locator("#incident-ack", { hasText: "looking into it" }).waitFor();
  await page.fill("#incident-note", "export was an approved migration");
  await page.getByRole("button", { name: "Resolve" }).click();
  await page.locator("#incident-status", { hasText: "resolved" }).waitFor();
  await shot("incident-detail");
  await axe(`/incidents/${target.id}`, "incident detail", "#incident-status");
  const api = await page.request.get(`${base}/v1/incidents?status=resolved`, { headers: { Authorization: `Bearer ${token}` } });
  const resolved = (await api.json()).incidents.find((i) => i.id === target.id);
  check(resolved && resolved.acknowledged_by === "admin" && resolved.resolved_by === "admin",
    `incident ${target.id} acknowledged and resolved by admin (API)`);
  check(resolved && resolved.acknowledge_note === "looking into it" && resolved.resolve_note === "export was an approved migration" &&
    Date.parse(resolved.resolved_at) >= Date.parse(resolved.acknowledged_at), "the notes and times are recorded");

  // Flows chart.
  await page.goto(`${base}/ui/#/flows`);
  await page.locator("#flows-chart rect[class^=eff-] title").first().waitFor({ state: "attached" });
  const bars = await page.locator("#flows-chart rect title").count();
  check(bars > 0, `flows: ${bars} bars charted`);
  await shot("flows");
  await axe("/flows", "flows", "#flows-chart");

  // A proof verified in the browser; a tampered one rejected.
  await page.goto(`${base}/ui/#/verify`);
  await page.locator("#v-choice option").first().waitFor({ state: "attached" });
  await page.waitForFunction(() => document.querySelector("#v-entry")?.value.length > 0);
  await page.getByRole("button", { name: "Verify" }).click();
  const good = await page.locator("#verify-result").innerText();
  check(/^Verified/.test(good), "verify: a genuine proof verifies in the browser");
  await shot("verify");
  await axe("/verify", "verify", "#v-entry");
  const entry = await page.inputValue("#v-entry");
  await page.fill("#v-entry", entry.replace(/"read"|"export"|"erase"/, '"write"').replace(/.$/, " }"));
  await page.getByRole("button", { name: "Verify" }).click();
  const tamperedEntry = await page.locator("#verify-result").innerText();
  check(/^Rejected/.test(tamperedEntry) && /✘ entry/.test(tamperedEntry), "verify: a tampered entry is rejected");
  await shot("verify-tampered");
  await page.fill("#v-entry", entry);
  const proof = await page.inputValue("#v-proof");
  const lines = proof.split("\n");
  const hashLine = lines.findIndex((l, k) => k > 1 && /^[A-Za-z0-9+/]{43}=$/.test(l));
  if (hashLine > 0) {
    const h = lines[hashLine];
    lines[hashLine] = (h[0] === "A" ? "B" : "A") + h.slice(1);
    await page.fill("#v-proof", lines.join("\n"));
    await page.getByRole("button", { name: "Verify" }).click();
    check(/^Rejected/.test(await page.locator("#verify-result").innerText()), "verify: a tampered inclusion proof is rejected");
  } else {
    check(false, "verify: the proof has an inclusion-proof hash to tamper with");
  }
  // A checkpoint with its signature changed.
  const sigLine = lines.findIndex((l) => l.startsWith("\u2014 "));
  const sig = proof.split("\n");
  sig[sigLine] = sig[sigLine].slice(0, -6) + (sig[sigLine].slice(-6, -5) === "A" ? "B" : "A") + sig[sigLine].slice(-5);
  await page.fill("#v-proof", sig.join("\n"));
  await page.getByRole("button", { name: "Verify" }).click();
  const badSig = await page.locator("#verify-result").innerText();
  check(/^Rejected/.test(badSig) && /✘ checkpoint/.test(badSig), "verify: a checkpoint with a forged signature is rejected");

  // A change without the CSRF token is refused, even with the session cookie.
  const forged = await page.request.post(`${base}/v1/incidents/${summary.incidents[0].id}/ack`, { data: {} });
  check(forged.status() === 403, "a change with the cookie but no CSRF token is 403");

  check(cspErrors.length === 0, `no CSP violation or page error${cspErrors.length ? `: ${cspErrors.join(" | ")}` : ""}`);
} catch (e) {
  fail(e);
}
await finish(browser, demo, o);
