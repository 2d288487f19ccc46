// Subject access report: every decision on one subject, from every node the
// desk reaches, each proof checked in the browser (verify.ts) against the
// log's verifier key as the auditor's configuration names it.
import { useEffect, useState } from "preact/hooks";
import { api, type Overview } from "./api";
import { ErrorLine, go } from "./common";
import { MoreNotice, moreQuery, type DeskMore } from "./page_approvals";
import { verifyEntryProof, type VerifyResult } from "./verify";

interface ReportEntry {
  node: string;
  dc: string;
  origin: string;
  index: number;
  entry: string;
  proof: string;
}

interface Report {
  configured: boolean;
  subject?: string;
  lookups: { node: string; subject_pseudonym: string; log_index: number }[];
  entries: ReportEntry[];
  unavailable: { node: string; error: string }[];
  more: DeskMore[];
}

// Checks each entry's proof against its log's key as the overview names it.
async function verifyEntries(entries: ReportEntry[], ov: Overview): Promise<VerifyResult[]> {
  const out: VerifyResult[] = [];
  for (const e of entries) {
    const key = ov.logs.find((l) => l.origin === e.origin)?.verifier_keys[0];
    out.push(key ? await verifyEntryProof(e.entry, e.proof, key) : { ok: false, steps: [], error: `no verifier key for ${e.origin}` });
  }
  return out;
}

function describe(entry: string): { time: string; action: string; who: string; purpose: string; effects: string } {
  try {
    const e = JSON.parse(entry);
    const effects = Array.isArray(e.field_groups)
      ? e.field_groups.map((g: { effect: string; fields: Record<string, string[]> }) =>
        `${g.effect}: ${Object.values(g.fields ?? {}).flat().join(", ")}`).join("; ")
      : "";
    if (e.type === "approval") {
      return {
        time: e.time ?? "",
        action: `approval ${e.state ?? ""} for ${e.principal ?? ""}${e.id ? ` (${e.id})` : ""}`,
        who: e.by ?? "(by time)",
        purpose: e.justification ?? "",
        effects: Array.isArray(e.fields) ? e.fields.join(", ") : "",
      };
    }
    return {
      time: e.time ?? "",
      action: `${e.action ?? e.type ?? ""}${e.outcome ? ` (${e.outcome})` : ""}${e.approval ? `, grant ${e.approval}` : ""}`,
      who: typeof e.principal === "object" ? e.principal?.id ?? "" : e.principal ?? e.by ?? "",
      purpose: e.purpose ?? "",
      effects,
    };
  } catch {
    return { time: "", action: "unreadable entry", who: "", purpose: "", effects: "" };
  }
}

export function SubjectPage({ subject }: { subject: string }) {
  const [input, setInput] = useState(subject);
  const [report, setReport] = useState<Report | null>(null);
  const [results, setResults] = useState<(VerifyResult | null)[]>([]);
  const [err, setErr] = useState("");
  const [loading, setLoading] = useState(false);
  const [overview, setOverview] = useState<Overview | null>(null);
  useEffect(() => {
    setInput(subject);
    if (!subject) return;
    let live = true;
    setLoading(true);
    setErr("");
    setReport(null);
    setResults([]);
    (async () => {
      try {
        const [r, ov] = await Promise.all([
          api<Report>(`/ui/api/access-report?subject=${encodeURIComponent(subject)}`),
          api<Overview>("/ui/api/overview"),
        ]);
        if (!live) return;
        setReport(r);
        setOverview(ov);
        const out = await verifyEntries(r.entries, ov);
        if (live) setResults(out);
      } catch (e) {
        if (live) setErr((e as Error).message);
      } finally {
        if (live) setLoading(false);
      }
    })();
    return () => { live = false; };
  }, [subject]);
  const verified = results.filter((r) => r?.ok).length;
  // Reads on from a node whose report goes on past one look-up; its entries
  // are verified like the first ones before they are shown.
  const loadMore = async (m: DeskMore) => {
    if (!report || !overview) return;
    setLoading(true);
    setErr("");
    try {
      const r = await api<Report>(`/ui/api/access-report?subject=${encodeURIComponent(subject)}&${moreQuery(m)}`);
      const checked = await verifyEntries(r.entries, overview);
      setReport({
        ...report,
        lookups: [...report.lookups, ...r.lookups.filter((l) => !report.lookups.some((k) => k.node === l.node))],
        entries: [...report.entries, ...r.entries],
        unavailable: [...report.unavailable, ...r.unavailable],
        more: [...report.more.filter((x) => x.node !== m.node), ...r.more],
      });
      setResults([...results, ...checked]);
    } catch (e) {
      setErr((e as Error).message);
    } finally {
      setLoading(false);
    }
  };
  return (
    <section>
      <h1>Subject access report</h1>
      <p>
        Every decision the nodes logged on one subject, found by its keyed pseudonym, each with its inclusion proof. The
        browser checks every proof itself (the log's Ed25519 signature on the checkpoint, the RFC 6962 inclusion proof);
        each look-up is logged by the node it asks.
      </p>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); go(`/subject/${encodeURIComponent(input.trim())}`); }}>
        <div class="field">
          <label for="subject-id">Subject id</label>
          <input id="subject-id" value={input} onInput={(e) => setInput((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field"><button type="submit">Look up</button></div>
      </form>
      <ErrorLine msg={err} />
      {loading && <p>Loading…</p>}
      {report && !report.configured && <p>The approvals desk is not configured (<code>approvals.desk</code>): the auditor cannot ask the nodes.</p>}
      {report?.unavailable.length ? (
        <p class="error" role="alert">Not reached: {report.unavailable.map((u) => `${u.node} (${u.error})`).join("; ")}</p>
      ) : null}
      {report && <MoreNotice more={report.more} busy={loading} onLoad={loadMore} />}
      {report && report.configured && (
        <>
          <p>Keyed pseudonym in the logs (one key per region):</p>
          <ul>
            {[...new Set(report.lookups.map((l) => l.subject_pseudonym))].map((p) => (
              <li key={p}>
                <code>{p}</code>: {report.lookups.filter((l) => l.subject_pseudonym === p).map((l) => l.node).join(", ")}
              </li>
            ))}
          </ul>
          <p id="subject-verified" role="status" class={results.length === report.entries.length && verified === report.entries.length ? "good" : "bad"}>
            {results.length < report.entries.length
              ? `Verifying ${report.entries.length} proofs…`
              : `${verified} of ${report.entries.length} decisions verified in the browser`}
          </p>
          <table id="subject-table">
            <thead><tr><th scope="col">Time</th><th scope="col">Log</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Purpose</th><th scope="col">Fields</th><th scope="col">Proof</th></tr></thead>
            <tbody>
              {report.entries.map((e, k) => {
                const d = describe(e.entry);
                const r = results[k];
                return (
                  <tr key={`${e.origin}/${e.index}`}>
                    <td>{d.time.replace("T", " ")}</td>
                    <td>{e.origin} #{e.index}</td>
                    <td>{d.who}</td>
                    <td>{d.action}</td>
                    <td>{d.purpose}</td>
                    <td>{d.effects}</td>
                    <td class={r ? (r.ok ? "good nowrap" : "bad") : ""}>
                      {r ? (r.ok ? "✔ verified" : `✘ ${r.error ?? r.steps.filter((s) => !s.ok).map((s) => s.what).join("; ")}`) : "…"}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
