// The console's server-paged and drill-down pages in a real browser (issue 22),
// run by ctest (tests/console.cmake): starts a real `clover demo` with 2,500
// synthetic incidents beside the demo's own, drives Debian's chromium with
// playwright-core, and checks: the overview shows every log's lag and witness
// as the auditor reports them; the incident list is paged and filtered by the
// auditor (the browser never holds more than a page) through page 2 of the
// large list and of a filtered one; flows out of the region are those the
// auditor judges so by their origin region (a US-origin flow to "us" is not,
// an EU-origin one is) and the origin region filters; a flow drills down to
// its log entries
// (paged) and one of them verifies in the browser while a tampered copy is
// rejected; an axe-core pass on each of these pages; no CSP violation.
// Screenshots go to --out.
//   node pages.spec.mjs --clover BIN --out DIR --data-dir DIR [--config FILE]
import path from "node:path";
import { check, checkAxe, fail, finish, launchBrowser, log, options, startDemo } from "./harness.mjs";

const o = options("console-pages-demo-data");
const { out, dataDir } = o;
const SYNTHETIC = 2500;


const { demo, summary } = await startDemo(o, ["--synthetic-incidents", String(SYNTHETIC)]);
log(`demo up: ${summary.incidents.length} incidents + ${SYNTHETIC} synthetic, auditor ${summary.auditor_api.url}`);
const base = summary.auditor_api.url.replace(/\/$/, "");
const total = SYNTHETIC + summary.incidents.length;

const browser = await launchBrowser(o);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspErrors = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  page.on("pageerror", (e) => cspErrors.push(`page error: ${e.message}`));
  // Every incident list the browser receives: at most one page.
  const incidentLists = [];
  const pending = [];
  page.on("response", (r) => {
    if (!new URL(r.url()).pathname.endsWith("/v1/incidents")) return;
    pending.push(r.json().then((b) => incidentLists.push({ url: r.url(), n: b.incidents.length }), () => {}));
  });
  // Waits until the first row of the incident list reads `text`.
  const firstRowIs = (text) => page.waitForFunction((t) => document.querySelector("#incident-list tbody tr")?.innerText === t,
    text, { timeout: 10e3 }).catch(() => {});
  const axeContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const axePage = await axeContext.newPage();
  async function axeHere(name) {
    await checkAxe(axePage, name);
  }
  async function axe(route, name, ready) {
    await axePage.goto(`${base}/ui/#${route}`);
    await axePage.locator(ready).first().waitFor();
    await axeHere(name);
  }
  const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

  await page.goto(summary.auditor_api.console_login_url);
  await page.getByRole("heading", { name: "Logs followed" }).waitFor();
  await axePage.goto(summary.auditor_api.console_login_url);
  await axePage.getByRole("heading", { name: "Logs followed" }).waitFor();

  // Overview: each log's verified size, lag and witness as the auditor says.
  await page.locator("#overview-logs tbody tr").first().waitFor();
  const ov = await (await page.request.get(`${base}/ui/api/overview`)).json();
  check(ov.logs.length === summary.nodes.length, `overview API: ${ov.logs.length} logs`);
  const rows = await page.locator("#overview-logs tbody tr").allInnerTexts();
  check(rows.length === summary.nodes.length, `overview: ${rows.length} logs followed`);
  for (const l of ov.logs) {
    const row = rows.find((r) => r.startsWith(l.origin)) ?? "";
    check(l.lag_entries === Math.max(0, l.latest_seen_size - l.size) && l.latest_seen_size >= l.size,
      `overview API: ${l.origin}: lag ${l.lag_entries} = seen ${l.latest_seen_size} - verified ${l.size}`);
    check(l.verified_at !== null && l.witness !== null && l.witness.size >= 1, `overview API: ${l.origin}: verified and cosigned`);
    check(/up to date|entries, .* behind/.test(row) && /cosigned \d+/.test(row) && /ago/.test(row),
      `overview: ${l.origin}: lag, witness and last verification shown (${row.replace(/\s+/g, " ")})`);
  }
  const cards = await page.locator(".cards").innerText();
  const critical = ov.open_incidents.critical.count;
  check(critical >= SYNTHETIC / 4 && cards.includes(String(critical)) && /GDPR 72 h: \d+ h \d+ min left/.test(cards),
    `overview: ${critical} open critical incidents with the 72-hour clock`);
  check(/^\d+$/.test(await page.locator("#flows-day").innerText()), "overview: flows in the last day");
  await shot("overview-lag");
  await axe("/overview", "overview (lag)", "#overview-logs tbody tr");

  // Incidents: the auditor pages; page 2 of the whole list.
  await page.goto(`${base}/ui/#/incidents`);
  await page.locator("#incident-pages", { hasText: `(${total} incidents)` }).waitFor();
  check((await page.locator("#incident-pages").innerText()).startsWith(`Page 1 of ${Math.ceil(total / 20)}`), `incidents: page 1 of ${Math.ceil(total / 20)}`);
  const page1 = await page.locator("#incident-list tbody tr").allInnerTexts();
  check(page1.length === 20, `incidents: 20 on page 1`);
  await page.getByRole("button", { name: "Next" }).click();
  await page.locator("#incident-pages", { hasText: "Page 2 of" }).waitFor();
  const page2 = await page.locator("#incident-list tbody tr").allInnerTexts();
  check(page2.length === 20 && page2.every((r) => !page1.includes(r)), "incidents: page 2 holds 20 others");
  await shot("incidents-page2");
  await page.getByRole("button", { name: "Previous" }).click();
  await page.locator("#incident-pages", { hasText: "Page 1 of" }).waitFor();
  await firstRowIs(page1[0]);
  const again = await page.locator("#incident-list tbody tr").allInnerTexts();
  // The GDPR countdown may have ticked a minute meanwhile: compare summaries.
  const summaries = (rows) => rows.map((r) => r.split("\t").slice(0, 3).join("\t"));
  check(JSON.stringify(summaries(again)) === JSON.stringify(summaries(page1)), `incidents: back to page 1${JSON.stringify(summaries(again)) === JSON.stringify(summaries(page1)) ? "" : ` (${JSON.stringify(again)} vs ${JSON.stringify(page1)})`}`);
  // Filtered by the auditor: synthetic and critical, page 2.
  await page.selectOption("#f-det", "synthetic");
  await page.selectOption("#f-sev", "critical");
  await page.locator("#incident-pages", { hasText: `(${SYNTHETIC / 4} incidents)` }).waitFor({ timeout: 10e3 }).catch(() => {});
  const filteredTotal = Number(/\((\d+) incidents\)/.exec(await page.locator("#incident-pages").innerText())?.[1]);
  check(filteredTotal === SYNTHETIC / 4, `incidents: ${filteredTotal} synthetic critical ones`);
  await page.getByRole("button", { name: "Next" }).click();
  await page.locator("#incident-pages", { hasText: "Page 2 of" }).waitFor();
  const crit2 = await page.locator("#incident-list tbody tr").allInnerTexts();
  check(crit2.length === 20 && crit2.every((r) => r.startsWith("critical") && r.includes("synthetic")), "incidents: page 2 of the critical ones");
  await Promise.all(pending);
  check(incidentLists.length >= 5 && incidentLists.every((l) => l.n <= 20 && /limit=20/.test(l.url)),
    `incidents: the browser received pages of at most 20 (${incidentLists.length} requests)`);
  check(incidentLists.some((l) => /severity=critical/.test(l.url) && /page_token=/.test(l.url)), "incidents: filter and page token sent to the auditor");
  await axe("/incidents", "incidents (paged)", "#incident-list tbody tr");

  // Flows: drill down from the table to the entries, page them, verify one.
  await page.goto(`${base}/ui/#/flows`);
  await page.locator("#flows-table button.cell").first().waitFor();
  const transferCell = page.locator("#flows-table tr.transfer button.cell");
  check((await page.locator("#flows-table tr.transfer").count()) > 0, "flows: transfers out of the region stand out");
  // Out of the region is judged by each flow's origin region (the auditor's
  // out_of_region), not by a home region: the US node's own traffic to "us"
  // stays in its region, the EU nodes' exports to "us" leave theirs.
  const rowsOf = async (region, destination) => page.locator(`#flows-table tr[data-region="${region}"][data-destination="${destination}"]`)
    .evaluateAll((rs) => rs.map((r) => r.classList.contains("transfer")));
  const usToUs = await rowsOf("us", "us");
  const euToUs = await rowsOf("eu", "us");
  check(usToUs.length > 0 && usToUs.every((t) => !t), `flows: US-origin flows to us are in the region (${JSON.stringify(usToUs)})`);
  check(euToUs.length > 0 && euToUs.every((t) => t), `flows: EU-origin transfers to us are out of the region (${JSON.stringify(euToUs)})`);
  // The origin region filter keeps only that region's rows.
  await page.selectOption("#fl-region", "=us");
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#flows-table tbody tr")).every((r) => r.getAttribute("data-region") === "us"));
  check((await page.locator("#flows-table tbody tr").count()) > 0, "flows: filtered by origin region us");
  await shot("flows-region-us");
  await page.selectOption("#fl-region", "*");
  await page.locator('#flows-table tr[data-region="eu"]').first().waitFor();
  const cell = (await transferCell.count()) > 0 ? transferCell.first() : page.locator("#flows-table button.cell").first();
  const cellLabel = await cell.getAttribute("aria-label");
  const [, dest, purpose] = /to (\S+) for (\S+):/.exec(cellLabel) ?? [];
  await cell.click();
  await page.locator("#flow-entries tbody tr").first().waitFor();
  const entries = await page.locator("#flow-entries tbody tr").allInnerTexts();
  check(entries.length > 0 && entries.length <= 20, `flows: ${entries.length} entries behind "${cellLabel}"`);
  check(entries.every((r) => r.includes(dest) && r.includes(purpose)), `flows: every entry goes to ${dest} for ${purpose}`);
  if ((await transferCell.count()) > 0) {
    const classes = await page.locator("#flow-entries tbody tr").evaluateAll((rs) => rs.map((r) => r.classList.contains("transfer")));
    check(classes.every((t) => t), "flows: the entries behind a transfer out of the region are marked out of it");
  }
  await shot("flows-drilldown");
  if (await page.getByRole("button", { name: "Next entries" }).isEnabled()) {
    await page.getByRole("button", { name: "Next entries" }).click();
    await page.locator("#flow-entries .pager span", { hasText: /^Page 2$/ }).waitFor();
    const more = await page.locator("#flow-entries tbody tr").allInnerTexts();
    check(more.length > 0 && more.every((r) => !entries.includes(r)), `flows: page 2 of the entries holds others${more.length > 0 && more.every((r) => !entries.includes(r)) ? "" : ` (${JSON.stringify(more.slice(0, 3))} vs ${JSON.stringify(entries.slice(0, 3))})`}`);
  }
  await axePage.goto(`${base}/ui/#/flows`);
  await axePage.locator("#flows-table button.cell").first().click();
  await axePage.locator("#flow-entries tbody tr").first().waitFor();
  await axeHere("flows drill-down");
  const verifyHref = await page.locator("#flow-entries tbody tr a", { hasText: "Verify" }).first().getAttribute("href");
  await page.locator("#flow-entries tbody tr a", { hasText: "Verify" }).first().click();
  await page.waitForFunction(() => document.querySelector("#v-entry")?.value.length > 0);
  const entry = await page.inputValue("#v-entry");
  check(entry.includes(`"destination":"${dest}"`), "verify: the entry drilled down to is loaded");
  await page.getByRole("button", { name: "Verify" }).click();
  check(/^Verified/.test(await page.locator("#verify-result").innerText()), "verify: the flow's entry verifies in the browser");
  await shot("verify-flow-entry");
  await page.fill("#v-entry", entry.replace(`"destination":"${dest}"`, `"destination":"eu-tampered"`));
  await page.getByRole("button", { name: "Verify" }).click();
  check(/^Rejected/.test(await page.locator("#verify-result").innerText()), "verify: the entry with another destination is rejected");
  await axe(verifyHref.slice(1), "verify a flow entry", "#v-entry");

  check(cspErrors.length === 0, `no CSP violation or page error${cspErrors.length ? `: ${cspErrors.join(" | ")}` : ""}`);
} catch (e) {
  fail(e);
}
await finish(browser, demo, o);
