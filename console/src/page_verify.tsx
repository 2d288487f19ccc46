// Verify: an incident's evidence checked in the browser (verify.ts).
import { useEffect, useState } from "preact/hooks";
import { api, type Incident, type Overview } from "./api";
import { ErrorLine, useLoad } from "./common";
import { verifyEntryProof, type VerifyResult } from "./verify";

interface EntryProof { origin: string; index: number; entry: string; proof: string; verifier_keys: string[] }

// `entry`: a log entry named by origin and index (the Flows drill-down)
// instead of an incident's evidence.
export function VerifyPage({ incident, item, entry: ref }: { incident: string; item: number; entry?: { origin: string; index: number } }) {
  const [data, err] = useLoad(() => Promise.all([
    ref ? Promise.resolve({ incidents: [] as Incident[] }) : api<{ incidents: Incident[] }>("/v1/incidents?limit=1000"),
    api<Overview>("/ui/api/overview"),
    ref ? api<EntryProof>(`/v1/flows/entry?${new URLSearchParams({ origin: ref.origin, index: String(ref.index) })}`) : Promise.resolve(null),
  ]), [ref?.origin, ref?.index]);
  const [entry, setEntry] = useState("");
  const [proof, setProof] = useState("");
  const [vkey, setVkey] = useState("");
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [choice, setChoice] = useState(incident ? `${incident}/${item}` : "");
  const withProofs: { label: string; value: string; entry: string; proof: string; origin: string }[] = [];
  const one = data?.[2];
  if (one) withProofs.push({ label: `${one.origin} entry ${one.index}`, value: `entry/${one.index}`, entry: one.entry, proof: one.proof, origin: one.origin });
  for (const i of data?.[0].incidents ?? []) {
    i.evidence.forEach((e, k) => {
      if (e.proof && e.entry) withProofs.push({ label: `${i.detector}: ${e.origin} entry ${e.index}`, value: `${i.id}/${k}`, entry: e.entry, proof: e.proof, origin: e.origin });
    });
  }
  useEffect(() => {
    const c = withProofs.find((w) => w.value === choice) ?? withProofs[0];
    if (!c) return;
    setChoice(c.value);
    setEntry(c.entry);
    setProof(c.proof);
    const log = data?.[1].logs.find((l) => l.origin === c.origin);
    setVkey(log?.verifier_keys[0] ?? "");
    setResult(null);
  }, [data, choice]);
  const run = async () => setResult(await verifyEntryProof(entry, proof, vkey));
  return (
    <section>
      <h1>Verify a proof in the browser</h1>
      <p>The browser checks the log's Ed25519 signature on the checkpoint and the RFC 6962 inclusion proof of the entry itself (WebCrypto); it trusts nothing the auditor says. Compare the verifier key with the one the log's operator publishes.</p>
      <ErrorLine msg={err} />
      <div class="field">
        <label for="v-choice">Evidence</label>
        <select id="v-choice" value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
          {withProofs.map((w) => <option key={w.value} value={w.value}>{w.label}</option>)}
        </select>
      </div>
      <div class="field"><label for="v-key">Log verifier key</label><input id="v-key" value={vkey} onInput={(e) => setVkey((e.target as HTMLInputElement).value)} /></div>
      <div class="field"><label for="v-entry">Entry (exact bytes)</label><textarea id="v-entry" rows={5} value={entry} onInput={(e) => { setEntry((e.target as HTMLTextAreaElement).value); setResult(null); }} /></div>
      <div class="field"><label for="v-proof">Proof (c2sp.org/tlog-proof@v1)</label><textarea id="v-proof" rows={10} value={proof} onInput={(e) => { setProof((e.target as HTMLTextAreaElement).value); setResult(null); }} /></div>
      <button onClick={run}>Verify</button>
      {result && (
        <div id="verify-result" class={result.ok ? "result good" : "result bad"} role="status">
          <strong>{result.ok ? "Verified: the entry is in the log the key signs." : "Rejected: this proof does not hold."}</strong>
          <ul>{result.steps.map((s, k) => <li key={k}>{s.ok ? "✔" : "✘"} {s.what}</li>)}</ul>
          {result.error && <p>{result.error}</p>}
        </div>
      )}
    </section>
  );
}
