// The console's Policy page in a real browser (issue 22 item 5), run by ctest
// (tests/console.cmake): starts a real `clover demo` on loopback ports, logs in
// with the demo's login link, and checks: the version in force on every node
// (the hash of the demo's signed bundle) and its invariants proven; a bundle
// breaking an invariant refused with its counterexample and nothing signed; a
// bundle that does not parse refused naming its line; a good bundle signed
// (downloadable byte for byte, accepted as a second version); the diff of the
// two versions; a change without the CSRF token refused; an axe-core pass (no
// serious or critical violation); no CSP violation. Screenshots go to --out.
//   node policy.spec.mjs --clover BIN --out DIR --data-dir DIR [--config FILE]
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { check, checkAxe, checkPhoneWidth, fail, finish, launchBrowser, log, options, startDemo } from "./harness.mjs";

const o = options("policy-demo-data");
const { out, dataDir } = o;


const { demo, summary } = await startDemo(o);
const base = summary.auditor_api.url.replace(/\/$/, "");
log(`demo up: auditor ${base}`);

// The bundle the demo's auditor signed and every node enforces.
const v1Text = fs.readFileSync(path.join(dataDir, "policy", "policy.yaml"), "utf8");
const v1 = crypto.createHash("sha256").update(v1Text).digest("hex");
// Breaks `nothing-reaches-cn-unpseudonymised`: raw data to China.
const breaking = v1Text.replace(/\ninvariants:/,
  "\n  - id: leak-to-cn\n    effect: allow\n    when: {destination: cn}\n\ninvariants:");
// A stricter v2: one more deny rule, which no invariant forbids.
const v2Text = v1Text
  .replace(/^description: .*$/m, "description: v2 - no exports to China.")
  .replace(/\ninvariants:/, "\n  - id: no-exports-to-cn\n    effect: deny\n    when: {destination: cn, action: export}\n\ninvariants:");
const v2 = crypto.createHash("sha256").update(v2Text).digest("hex");

const browser = await launchBrowser(o);
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspErrors = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  page.on("pageerror", (e) => cspErrors.push(`page error: ${e.message}`));
  const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });

  await page.goto(summary.auditor_api.console_login_url);
  await page.getByRole("heading", { name: "Logs followed" }).waitFor();
  await page.getByRole("link", { name: "Policy" }).click();
  await page.locator("#policy-nodes tbody tr").first().waitFor();

  // The version in force on every node.
  const rows = await page.locator("#policy-nodes tbody tr").allInnerTexts();
  check(rows.length >= summary.nodes.length, `policy: ${rows.length} nodes listed (demo: ${summary.nodes.length} nodes)`);
  check(rows.every((r) => r.includes(v1.slice(0, 12))), "policy: every node decides with the signed v1 (its sha256)");
  check(summary.nodes.every((n) => rows.some((r) => r.includes(n.dc))), "policy: each demo node has its row");
  const versions = await page.locator("#policy-versions tbody tr").count();
  check(versions === 1, "policy: one version accepted");
  const proofs = await page.locator("#policy-proofs li").allInnerTexts();
  check(proofs.length === 5 && proofs.every((p) => /proven/.test(p)), `policy: v1's ${proofs.length} invariants proven`);
  await shot("policy");

  // A bundle that breaks an invariant: refused with its counterexample.
  await page.fill("#bundle-yaml", breaking);
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.locator("#sign-result .result.bad").waitFor();
  const refused = await page.locator("#sign-result").innerText();
  check(/Refused/.test(refused) && /nothing-reaches-cn-unpseudonymised VIOLATED/.test(refused) &&
    /Counterexample/.test(refused) && /sent to cn/.test(refused) && /leak-to-cn/.test(refused),
  "sign: a bundle breaking an invariant is refused with its counterexample");
  await shot("policy-refused-page");
  await page.locator("#sign-result").screenshot({ path: path.join(out, "policy-refused.png") });
  let state = await (await page.request.get(`${base}/ui/api/policy`)).json();
  check(state.versions.length === 1, "sign: nothing was signed");

  // YAML that does not parse: the line is named.
  await page.fill("#bundle-yaml", "version: 1\nrules:\n  - id: [oops\n");
  await page.getByRole("button", { name: "Check", exact: true }).click();
  await page.locator("#sign-result .error").waitFor();
  check(/uploaded\.yaml:\d+/.test(await page.locator("#sign-result .error").innerText()), "check: bad YAML is refused naming its line");

  // A change without the CSRF token is refused, even with the session cookie.
  const forged = await page.request.post(`${base}/ui/api/policy/sign`, { data: { bundle: v2Text } });
  check(forged.status() === 403, "sign with the cookie but no CSRF token is 403");

  // A good bundle, from a file: signed, downloadable, accepted.
  const v2File = path.join(dataDir, "policy-v2.yaml");
  fs.writeFileSync(v2File, v2Text);
  await page.setInputFiles("#bundle-file", v2File);
  await page.waitForFunction((n) => document.querySelector("#bundle-yaml")?.value.length === n, v2Text.length);
  await page.getByRole("button", { name: "Sign", exact: true }).click();
  await page.locator("#sign-result .result.good").waitFor();
  const signed = await page.locator("#sign-result").innerText();
  check(/Signed/.test(signed) && signed.includes(v2) && /no-exports-to-cn/.test(signed), "sign: a good bundle is signed (with its diff against v1)");
  const sig = await page.locator("#signature").innerText();
  check(sig.startsWith(`clover-policy/v1\n${v2}\n`) && /\u2014 /.test(sig), "sign: the signature is a signed note over its sha256");
  const bytes = await (await page.request.get(`${base}/ui/api/policy/file?sha256=${v2}&part=bundle`)).text();
  check(bytes === v2Text, "sign: the bundle downloads byte for byte");
  const sigFile = await (await page.request.get(`${base}/ui/api/policy/file?sha256=${v2}&part=signature`)).text();
  check(sigFile.trim() === sig.trim(), "sign: the signature downloads");
  state = await (await page.request.get(`${base}/ui/api/policy`)).json();
  check(state.versions.length === 2 && state.versions.some((v) => v.sha256 === v2 && v.analysis.ok), "sign: v2 is accepted for replay");
  await shot("policy-signed");

  // The diff of the two versions.
  await page.locator("#policy-versions tbody tr").nth(1).waitFor();
  await page.selectOption("#diff-from", v1);
  await page.selectOption("#diff-to", v2);
  await page.getByRole("button", { name: "Compare" }).click();
  await page.locator("#policy-diff").waitFor();
  const diff = await page.locator("#policy-diff").innerText();
  check(/Rules: 1 added, 0 removed, 0 changed/.test(diff) && /no-exports-to-cn\s+added\s+deny/.test(diff) &&
    /Invariants: 0 added, 0 removed, 0 changed, 5 unchanged/.test(diff), "diff: v1 -> v2 adds one deny rule");
  await page.locator("#policy-diff").screenshot({ path: path.join(out, "policy-diff.png") });

  // Readable on a phone.
  await checkPhoneWidth(page, "policy");

  // axe-core, in a context that may inject its script.
  const axeContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const axePage = await axeContext.newPage();
  await axePage.goto(summary.auditor_api.console_login_url);
  await axePage.getByRole("heading", { name: "Logs followed" }).waitFor();
  await axePage.goto(`${base}/ui/#/policy`);
  await axePage.locator("#policy-nodes tbody tr").first().waitFor();
  await axePage.fill("#bundle-yaml", breaking);
  await axePage.getByRole("button", { name: "Check", exact: true }).click();
  await axePage.locator("#sign-result .result.bad").waitFor();
  await axePage.getByRole("button", { name: "Compare" }).click();
  await axePage.locator("#policy-diff").waitFor();
  await checkAxe(axePage, "policy");

  check(cspErrors.length === 0, `no CSP violation or page error${cspErrors.length ? `: ${cspErrors.join(" | ")}` : ""}`);
} catch (e) {
  fail(e);
}
await finish(browser, demo, o);
