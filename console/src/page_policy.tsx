// Policy: the version each node decides with, the versions the auditor
// accepts with their invariant proofs, a structural diff of two versions, and
// signing a new version (refused, with the counterexample, when an invariant
// fails). Server side: src/audit/policy_view.h.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Session } from "./api";
import { ErrorLine, useLoad } from "./common";

interface Counterexample {
  principal: { id: string; kind: string; org: string; roles: string[]; country: string; jurisdiction: string };
  purpose: string;
  action: string;
  subject_jurisdiction: string;
  destination: string;
  field: { name: string; category: string; restricted: boolean };
  effect: string;
  deciding_rule: string;
  text: string;
}
interface InvariantProof {
  id: string;
  description: string;
  effect: string;
  when: string;
  line: number;
  proven: boolean;
  message?: string;
  counterexample?: Counterexample;
}
interface Finding { severity: "error" | "warning"; kind: string; line: number; column: number; message: string; counterexample?: Counterexample }
interface Analysis { ok: boolean; states: number; rules: number; invariants: InvariantProof[]; findings: Finding[] }
interface Version { sha256: string; version: number; description: string; file: string; analysis: Analysis }
interface Run { sha256: string; since: string; last: string; first_index: number; last_index: number; decisions: number; signed: boolean }
interface PolicyNode { origin: string; node: string; runs: Run[] }
interface PolicyState { versions: Version[]; nodes: PolicyNode[]; can_sign: boolean; max_bundle_bytes: number }
interface DiffItem { id: string; effect: string; when: string; line: number }
interface DiffList { added: DiffItem[]; removed: DiffItem[]; changed: { id: string; line: number; changes: { what: string; from: string; to: string }[] }[]; unchanged: number }
interface Diff { from: { sha256: string; version: number; description: string }; to: { sha256: string; version: number; description: string }; rules: DiffList; invariants: DiffList }
interface CheckResult { status?: string; bundle: { sha256: string; version: number; description: string }; analysis: Analysis; diff?: Diff; signature?: string }

const short = (h: string) => h.slice(0, 12);

function label(versions: Version[], sha: string): string {
  const v = versions.find((x) => x.sha256 === sha);
  return v ? `${short(sha)} (${v.description || v.file})` : `${short(sha)} (not signed)`;
}

function CounterexampleView({ c }: { c: Counterexample }) {
  return (
    <div class="counterexample">
      <p>
        Counterexample: <strong>{c.principal.id}</strong> ({c.principal.kind}, {c.principal.org}, roles [{c.principal.roles.join(", ")}], {c.principal.country}/{c.principal.jurisdiction})
        for <strong>{c.purpose}</strong> / {c.action}, subject in {c.subject_jurisdiction}, sent to <strong>{c.destination}</strong>;
        field {c.field.name} ({c.field.category}{c.field.restricted ? ", restricted" : ""}) gets <strong>{c.effect}</strong> by {c.deciding_rule}.
      </p>
      <pre tabIndex={0}>{c.text}</pre>
    </div>
  );
}

function Proofs({ a, id }: { a: Analysis; id: string }) {
  return (
    <div id={id}>
      <ul class="proofs">
        {a.invariants.map((i) => (
          <li key={i.id} class={i.proven ? "good" : "bad"}>
            <span aria-hidden="true">{i.proven ? "✔ " : "✘ "}</span>
            <strong>{i.id}</strong> {i.proven ? "proven" : "VIOLATED"}: {i.effect} when {i.when} (line {i.line})
            {i.description && <div class="small">{i.description}</div>}
            {i.message && <div>{i.message}</div>}
            {i.counterexample && <CounterexampleView c={i.counterexample} />}
          </li>
        ))}
      </ul>
      {a.invariants.length === 0 && <p>No invariants declared.</p>}
      {a.findings.filter((f) => f.kind !== "invariant_violated").map((f, k) => (
        <p key={k} class={f.severity === "error" ? "bad" : "small"}>line {f.line}: {f.severity}: {f.message}</p>
      ))}
    </div>
  );
}

function DiffSection({ title, d }: { title: string; d: DiffList }) {
  return (
    <>
      <h3>{title}: {d.added.length} added, {d.removed.length} removed, {d.changed.length} changed, {d.unchanged} unchanged</h3>
      {(d.added.length > 0 || d.removed.length > 0 || d.changed.length > 0) && (
        <table>
          <thead><tr><th scope="col">Id</th><th scope="col">Change</th><th scope="col">Detail</th></tr></thead>
          <tbody>
            {d.added.map((x) => <tr key={`a${x.id}`} class="diff-added"><td>{x.id}</td><td>added</td><td>{x.effect} when {x.when}</td></tr>)}
            {d.removed.map((x) => <tr key={`r${x.id}`} class="diff-removed"><td>{x.id}</td><td>removed</td><td>{x.effect} when {x.when}</td></tr>)}
            {d.changed.map((x) => (
              <tr key={`c${x.id}`} class="diff-changed">
                <td>{x.id}</td><td>changed</td>
                <td>{x.changes.map((c, k) => <div key={k}><strong>{c.what}</strong>: {c.from} → {c.to}</div>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function DiffView({ d, id }: { d: Diff; id: string }) {
  return (
    <div id={id}>
      <p>From {short(d.from.sha256)} to {short(d.to.sha256)}{d.from.description !== d.to.description ? `; description: “${d.from.description}” → “${d.to.description}”` : ""}</p>
      <DiffSection title="Rules" d={d.rules} />
      <DiffSection title="Invariants" d={d.invariants} />
    </div>
  );
}

const fileLink = (sha: string, part: "bundle" | "signature", text: string) => (
  <a href={`/ui/api/policy/file?sha256=${sha}&part=${part}`} download>{text}</a>
);

export function PolicyPage({ session }: { session: Session | null }) {
  const [data, err, reload] = useLoad(() => api<PolicyState>("/ui/api/policy"), []);
  const versions = data?.versions ?? [];
  const [shown, setShown] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [diff, setDiff] = useState<Diff | null>(null);
  const [diffErr, setDiffErr] = useState("");
  const [yaml, setYaml] = useState("");
  const [result, setResult] = useState<CheckResult | null>(null);
  const [refused, setRefused] = useState(false);
  const [signErr, setSignErr] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!versions.length) return;
    if (!shown) setShown(versions[0].sha256);
    if (!from) setFrom(versions[0].sha256);
    if (!to) setTo(versions[versions.length - 1].sha256);
  }, [data]);
  const compare = async () => {
    try {
      setDiff(await api<Diff>(`/ui/api/policy/diff?from=${from}&to=${to}`));
      setDiffErr("");
    } catch (e) {
      setDiff(null);
      setDiffErr((e as Error).message);
    }
  };
  const submit = async (what: "check" | "sign") => {
    setBusy(true);
    setSignErr("");
    setResult(null);
    setRefused(false);
    try {
      const r = await api<CheckResult>(`/ui/api/policy/${what}`, { method: "POST", body: { bundle: yaml } });
      setResult(r);
      setRefused(!r.analysis.ok);
      if (what === "sign") reload();
    } catch (e) {
      if (e instanceof ApiError && e.status === 422 && e.body?.analysis) {
        setResult(e.body as CheckResult);
        setRefused(true);
        setSignErr(e.message);
      } else {
        setSignErr((e as Error).message);
      }
    } finally {
      setBusy(false);
    }
  };
  const readFile = (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (!f) return;
    if (data && f.size > data.max_bundle_bytes) {
      setSignErr(`${f.name} is larger than ${data.max_bundle_bytes} bytes`);
      return;
    }
    f.text().then(setYaml);
  };
  const admin = session?.role === "admin";
  const v = versions.find((x) => x.sha256 === shown);
  const select = (id: string, text: string, value: string, set: (v: string) => void) => (
    <div class="field">
      <label for={id}>{text}</label>
      <select id={id} value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        {versions.map((x) => <option key={x.sha256} value={x.sha256}>{short(x.sha256)} — {x.description || x.file}</option>)}
      </select>
    </div>
  );
  return (
    <section class="policy">
      <h1>Policy</h1>
      <ErrorLine msg={err} />
      <h2>In force on each node</h2>
      <p class="small">The version named by each node's latest decision (replayed by the auditor), since its first decision under it.</p>
      <table id="policy-nodes">
        <thead><tr><th scope="col">Node</th><th scope="col">Log</th><th scope="col">Version</th><th scope="col">Since</th><th scope="col">Decisions</th><th scope="col">Earlier</th></tr></thead>
        <tbody>
          {(data?.nodes ?? []).map((n) => {
            const cur = n.runs[n.runs.length - 1];
            return (
              <tr key={`${n.origin}/${n.node}`}>
                <td>{n.node}</td>
                <td>{n.origin}</td>
                <td class={cur.signed ? "" : "bad"}>{label(versions, cur.sha256)}</td>
                <td>{cur.since} (entry {cur.first_index})</td>
                <td>{cur.decisions}</td>
                <td>{n.runs.slice(0, -1).reverse().map((r) => `${label(versions, r.sha256)} until ${r.last}`).join("; ") || "—"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {data && data.nodes.length === 0 && <p>No decision replayed yet.</p>}

      <h2>Versions the auditor accepts</h2>
      <table id="policy-versions">
        <thead><tr><th scope="col">SHA-256</th><th scope="col">File</th><th scope="col">Description</th><th scope="col">Rules</th><th scope="col">Invariants</th><th scope="col">Files</th></tr></thead>
        <tbody>
          {versions.map((x) => (
            <tr key={x.sha256}>
              <td><code>{short(x.sha256)}</code></td>
              <td>{x.file}</td>
              <td>{x.description}</td>
              <td>{x.analysis.rules}</td>
              <td class={x.analysis.ok ? "good" : "bad"}>{x.analysis.invariants.filter((i) => i.proven).length} of {x.analysis.invariants.length} proven</td>
              <td>{fileLink(x.sha256, "bundle", "bundle")}, {fileLink(x.sha256, "signature", "signature")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {versions.length > 0 && (
        <>
          {select("policy-shown", "Invariants of", shown, setShown)}
          {v && <Proofs a={v.analysis} id="policy-proofs" />}
        </>
      )}

      <h2>Compare two versions</h2>
      {versions.length > 0 && (
        <div class="filters">
          {select("diff-from", "From", from, setFrom)}
          {select("diff-to", "To", to, setTo)}
        </div>
      )}
      <button onClick={compare} disabled={!from || !to}>Compare</button>
      <ErrorLine msg={diffErr} />
      {diff && <DiffView d={diff} id="policy-diff" />}

      <h2>Check or sign a new version</h2>
      <p class="small">
        The auditor lints the bundle and proves its invariants over every value it names (as <code>clover policy check</code> without a deployment).
        {data?.can_sign ? " A bundle whose invariants all hold can be signed with the auditor's policy key; nodes load it (with its .sig) from their policy.file when they start." : " This auditor has no policy-signing key (policies.signing_key_file): it can check, not sign."}
      </p>
      <div class="field">
        <label for="bundle-file">Bundle file (YAML)</label>
        <input id="bundle-file" type="file" accept=".yaml,.yml,text/yaml" onChange={readFile} />
      </div>
      <div class="field">
        <label for="bundle-yaml">Bundle</label>
        <textarea id="bundle-yaml" rows={12} value={yaml} onInput={(e) => setYaml((e.target as HTMLTextAreaElement).value)} />
      </div>
      <button onClick={() => submit("check")} disabled={busy || !yaml}>Check</button>
      {admin && data?.can_sign && <button onClick={() => submit("sign")} disabled={busy || !yaml}>Sign</button>}
      <div id="sign-result" aria-live="polite">
        <ErrorLine msg={signErr} />
        {result && (
          <div class={`result ${refused ? "bad" : "good"}`}>
            <p><strong>{result.status === "signed" ? "Signed" : refused ? "Refused: an invariant fails; nothing is signed" : "All invariants hold"}</strong> — sha256 <code>{result.bundle.sha256}</code></p>
            <Proofs a={result.analysis} id="sign-proofs" />
            {result.status === "signed" && (
              <>
                <p>Download {fileLink(result.bundle.sha256, "bundle", "the bundle")} and {fileLink(result.bundle.sha256, "signature", "its signature")}; install both as the nodes' <code>policy.file</code> and <code>policy.file.sig</code>.</p>
                <pre id="signature" tabIndex={0}>{result.signature}</pre>
              </>
            )}
            {result.diff && <><h3>Against the version in force</h3><DiffView d={result.diff} id="sign-diff" /></>}
          </div>
        )}
      </div>
    </section>
  );
}
