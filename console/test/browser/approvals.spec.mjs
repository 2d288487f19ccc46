// The console's approvals desk and subject access report in a real browser
// (issue 22), run by ctest (tests/console.cmake): starts a real `clover demo`,
// drives Debian's chromium with playwright-core, and checks: the overview's
// pending count; an approval beyond the policy's max_duration refused; the
// demo's pending legal request approved from the desk and the requester's read
// then allowed at the node; the grant revoked and the read refused again; a
// subject's access report with every proof verified in the browser; an
// axe-core pass on both pages; no CSP violation. Screenshots go to --out.
//   node approvals.spec.mjs --clover BIN --out DIR --data-dir DIR [--config FILE]
import path from "node:path";
import { check, checkAxe, checkPhoneWidth, fail, finish, launchBrowser, log, options, startDemo } from "./harness.mjs";

const o = options("console-approvals-demo-data");
const { out, dataDir } = o;


// The requester's API key of the example deployment (gateway/local_deployment.cc).
const LEGAL_KEY = "clv_example_us_legal_1_6aeefe67cf2a45f9";

const { demo, summary } = await startDemo(o);
log(`demo up: auditor ${summary.auditor_api.url}`);
const base = summary.auditor_api.url.replace(/\/$/, "");
const endpointOf = (dc) => summary.nodes.find((n) => n.dc === dc)?.endpoint;

const browser = await launchBrowser(o);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspErrors = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  page.on("pageerror", (e) => cspErrors.push(`page error: ${e.message}`));
  const axeContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const axePage = await axeContext.newPage();
  async function axe(route, name, ready) {
    await axePage.goto(`${base}/ui/#${route}`);
    await axePage.locator(ready).first().waitFor();
    await checkAxe(axePage, name);
  }
  const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

  // Log in with the login link; the overview counts the pending request.
  await page.goto(summary.auditor_api.console_login_url);
  await page.getByRole("heading", { name: "Logs followed" }).waitFor();
  await page.waitForFunction(() => /^[0-9]+$/.test(document.querySelector("#pending-approvals")?.textContent ?? ""));
  const pendingCount = Number(await page.locator("#pending-approvals").innerText());
  check(pendingCount >= 1, `overview: ${pendingCount} pending approval(s)`);
  await axePage.goto(summary.auditor_api.console_login_url);
  await axePage.getByRole("heading", { name: "Logs followed" }).waitFor();

  // The desk shows the demo's pending legal request with its limit.
  await page.goto(`${base}/ui/#/approvals`);
  const row = page.locator("#pending-table tbody tr", { hasText: "LEGAL_REQUEST" }).first();
  await row.waitFor();
  const id = await row.getAttribute("data-approval");
  const rowText = await row.innerText();
  check(/us-legal-1/.test(rowText) && /Subpoena 2026-SUB-0412/.test(rowText) && /name, birthdate/.test(rowText),
    "desk: requester, justification code and text, fields");
  check(/\b4h\b/.test(rowText) && /\b8h\b/.test(rowText), "desk: requested duration (4h) and the policy's limit (8h)");
  const desk = await (await page.request.get(`${base}/ui/api/approvals?state=pending`)).json();
  const req = desk.approvals.find((a) => a.id === id);
  check(req && req.subject_pseudonyms?.length === 1 && rowText.includes(req.subject_pseudonyms[0]), "desk: the subject's pseudonym");
  const nodeUrl = endpointOf(req.node);
  const readUrl = `${nodeUrl}/v1/subjects/${encodeURIComponent(req.subjects[0])}?fields=name,birthdate`;
  const legalRead = () => page.request.get(readUrl, {
    headers: { Authorization: `Bearer ${LEGAL_KEY}`, "X-Clover-Purpose": "legal_request" },
  });
  check((await legalRead()).status() === 403, "before approval: the requester's read is refused (403)");
  await shot("approvals");
  await checkPhoneWidth(page, "approvals desk", path.join(out, "approvals-phone.png"));
  await axe("/approvals", "approvals desk", "#pending-table tbody tr");

  // Beyond the policy's limit: refused, nothing changes.
  await page.fill(`#dur-${id}`, "9h");
  await page.fill(`#reason-${id}`, "too long on purpose");
  await page.getByRole("button", { name: `Approve ${id}` }).click();
  await page.locator("#desk-result.bad").waitFor();
  check(/at most 8h/.test(await page.locator("#desk-result").innerText()), "an approval beyond max_duration (9h > 8h) is refused");
  check((await legalRead()).status() === 403, "after the refused approval: still no read");

  // Approve for one hour.
  await page.fill(`#dur-${id}`, "1h");
  await page.fill(`#reason-${id}`, "subpoena checked, two fields");
  await page.getByRole("button", { name: `Approve ${id}` }).click();
  await page.locator("#desk-result.good").waitFor();
  check(/approved/.test(await page.locator("#desk-result").innerText()), "desk: approved");
  await page.locator(`#live-table tr[data-approval="${id}"]`).waitFor();
  const read = await legalRead();
  check(read.status() === 200, `after approval: the requester's read succeeds (HTTP ${read.status()})`);
  const got = await (await page.request.get(`${base}/ui/api/approvals?state=approved`)).json();
  const granted = got.approvals.find((a) => a.id === id);
  check(granted && granted.decided_by === "auditor" && /^clover-approval\/v1\n/.test(granted.attestation ?? "") &&
    Date.parse(granted.grant_expires) - Date.parse(granted.decided) <= 3600e3 + 1000,
    "the grant: decided by the auditor, with its attestation, for at most 1 h");
  await shot("approvals-granted");

  // Revoke it: the read is refused again.
  await page.fill(`#live-table #reason-${id}`, "court order withdrawn");
  await page.getByRole("button", { name: `Revoke ${id}` }).click();
  await page.locator("#desk-result.good", { hasText: "revoked" }).waitFor();
  const after = await legalRead();
  check(after.status() === 403, `after revocation: the requester's read is refused (HTTP ${after.status()})`);
  await page.locator(`#history-table tr[data-approval="${id}"]`, { hasText: "court order withdrawn" }).waitFor();
  check(true, "history: the revocation with its reason");

  // A change without the CSRF token is refused.
  const forged = await page.request.post(`${base}/ui/api/approvals/${req.node}/${id}/revoke`, { data: {} });
  check(forged.status() === 403, "a desk change with the cookie but no CSRF token is 403");

  // The subject's access report, every proof verified in the browser.
  await page.goto(`${base}/ui/#/subject`);
  await page.fill("#subject-id", req.subjects[0]);
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#subject-verified", { hasText: "decisions verified" }).waitFor({ timeout: 60e3 });
  const verdict = await page.locator("#subject-verified").innerText();
  const m = /^([0-9]+) of ([0-9]+) decisions verified/.exec(verdict);
  check(m && m[1] === m[2] && Number(m[2]) >= 3, `access report: ${verdict}`);
  const reportText = await page.locator("#subject-table").innerText();
  check(/us-legal-1/.test(reportText) && /legal_request/.test(reportText), "access report: the legal read is listed");
  await shot("subject-report");
  await axe(`/subject/${encodeURIComponent(req.subjects[0])}`, "subject access report", "#subject-table tbody tr");

  check(cspErrors.length === 0, `no CSP violation or page error${cspErrors.length ? `: ${cspErrors.join(" | ")}` : ""}`);
} catch (e) {
  fail(e);
}
await finish(browser, demo, o);
