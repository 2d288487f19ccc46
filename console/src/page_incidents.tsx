// Incidents: the filtered list and one incident's detail and actions.
import { useState } from "preact/hooks";
import { api, type Incident, type Session } from "./api";
import { ErrorLine, PAGE_SIZE, SEVERITIES, countdown, useLoad, useNow } from "./common";

// Every detector the auditor has (audit/incident.h).
const DETECTORS = [
  "attribute_mismatch", "bulk_access", "bulk_erasure", "canary_touched", "decision_mismatch",
  "denial_burst", "erasure_attestation_mismatch", "erasure_unpurged", "forged_approval", "log_stalled",
  "malformed_entry", "release_log_unverified", "release_unjustified", "restricted_transfer",
  "split_view", "tampered_bundle", "tampered_history", "topology_violation", "unknown_principal",
  "unsigned_policy",
  "synthetic", // clover demo --synthetic-incidents
] as const;

interface IncidentPage {
  incidents: Incident[];
  total?: number;
  next_page_token?: string;
}

// The list is filtered and paged by the auditor (GET /v1/incidents): the
// browser holds one page and the tokens of the pages before it.
export function IncidentsPage() {
  const now = useNow();
  const [sev, setSev] = useState("");
  const [status, setStatus] = useState("");
  const [detector, setDetector] = useState("");
  const [since, setSince] = useState("");
  const [tokens, setTokens] = useState<string[]>([""]);
  const p = tokens.length - 1;
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (sev) query.set("severity", sev);
  if (status) query.set("status", status);
  if (detector) query.set("detector", detector);
  const sinceTime = since ? Date.parse(since) : NaN;
  if (!Number.isNaN(sinceTime)) query.set("since", new Date(sinceTime).toISOString());
  if (tokens[p]) query.set("page_token", tokens[p]);
  const key = query.toString();
  // A page is shown only with the filters and token it was asked with.
  const [loaded, err] = useLoad(() => api<IncidentPage>(`/v1/incidents?${key}`).then((d) => ({ key, d })), [key]);
  const data = loaded?.key === key ? loaded.d : null;
  const total = data?.total ?? data?.incidents.length ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const reset = () => setTokens([""]);
  const select = (label: string, id: string, value: string, set: (v: string) => void, options: readonly string[]) => (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => { set((e.target as HTMLSelectElement).value); reset(); }}>
        <option value="">any</option>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </div>
  );
  return (
    <section>
      <h1>Incidents</h1>
      <ErrorLine msg={err} />
      <div class="filters">
        {select("Severity", "f-sev", sev, setSev, SEVERITIES)}
        {select("Status", "f-status", status, setStatus, ["open", "acknowledged", "resolved"])}
        {select("Detector", "f-det", detector, setDetector, DETECTORS)}
        <div class="field">
          <label for="f-since">Seen since</label>
          <input id="f-since" type="datetime-local" value={since} onInput={(e) => { setSince((e.target as HTMLInputElement).value); reset(); }} />
        </div>
      </div>
      <table id="incident-list">
        <thead><tr><th scope="col">Severity</th><th scope="col">Detector</th><th scope="col">Summary</th><th scope="col">Status</th><th scope="col">GDPR 72 h</th></tr></thead>
        <tbody>
          {(data?.incidents ?? []).map((i) => (
            <tr key={i.id}>
              <td><span class={`badge sev-${i.severity}`}>{i.severity}</span></td>
              <td>{i.detector}</td>
              <td><a href={`#/incidents/${i.id}`}>{i.summary}</a></td>
              <td>{i.status}</td>
              <td>{i.status === "resolved" ? "—" : countdown(i.notification_deadline, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        <button disabled={p === 0} onClick={() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t))}>Previous</button>
        <span id="incident-pages" aria-live="polite">{data ? `Page ${p + 1} of ${pages} (${total} incidents)` : `Page ${p + 1}: loading…`}</span>
        <button disabled={!data?.next_page_token} onClick={() => { const next = data?.next_page_token; if (next) setTokens((t) => [...t, next]); }}>Next</button>
      </nav>
    </section>
  );
}

export function IncidentDetail({ id, session }: { id: string; session: Session | null }) {
  const now = useNow();
  const [inc, err, reload] = useLoad(() => api<Incident>(`/v1/incidents/${encodeURIComponent(id)}`), [id]);
  const [actErr, setActErr] = useState("");
  const [note, setNote] = useState("");
  const act = async (what: "ack" | "resolve") => {
    try {
      await api(`/v1/incidents/${encodeURIComponent(id)}/${what}`, { method: "POST", body: note ? { note } : {} });
      setActErr("");
      setNote("");
      reload();
    } catch (e) {
      setActErr((e as Error).message);
    }
  };
  if (!inc) return <section><h1>Incident</h1><ErrorLine msg={err} />{err && <p>No incident {id}.</p>}</section>;
  const admin = session?.role === "admin";
  return (
    <section>
      <h1>Incident {inc.id}</h1>
      <dl class="facts">
        <dt>Severity</dt><dd><span class={`badge sev-${inc.severity}`}>{inc.severity}</span></dd>
        <dt>Detector</dt><dd>{inc.detector}</dd>
        <dt>Summary</dt><dd>{inc.summary}</dd>
        <dt>Status</dt><dd id="incident-status">{inc.status}</dd>
        {inc.acknowledged_by && <><dt>Acknowledged</dt><dd id="incident-ack">by {inc.acknowledged_by}{inc.acknowledged_at ? ` at ${inc.acknowledged_at}` : ""}{inc.acknowledge_note ? `: “${inc.acknowledge_note}”` : ""}</dd></>}
        {inc.resolved_by && <><dt>Resolved</dt><dd id="incident-resolved">by {inc.resolved_by}{inc.resolved_at ? ` at ${inc.resolved_at}` : ""}{inc.resolve_note ? `: “${inc.resolve_note}”` : ""}</dd></>}
        <dt>First / last seen</dt><dd>{inc.first_seen} / {inc.last_seen} ({inc.occurrences} occurrences)</dd>
        <dt>Notify the authority by</dt><dd>{inc.notification_deadline} ({countdown(inc.notification_deadline, now)})</dd>
      </dl>
      {admin && inc.status !== "resolved" && (
        <div class="field">
          <label for="incident-note">Note (recorded in the incident and the auditor's journal; no personal data)</label>
          <textarea id="incident-note" rows={2} maxLength={2000} value={note} onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
        </div>
      )}
      {admin && inc.status === "open" && <button onClick={() => act("ack")}>Acknowledge</button>}
      {admin && inc.status !== "resolved" && <button onClick={() => act("resolve")}>Resolve</button>}
      <ErrorLine msg={actErr} />
      <h2>Evidence ({inc.evidence.length})</h2>
      {inc.evidence.map((e, k) => (
        <article class="evidence" key={k}>
          <h3>{e.origin}{e.index !== undefined ? ` entry ${e.index}` : ""}</h3>
          {e.note && <p>{e.note}</p>}
          {e.entry && <pre tabIndex={0}>{e.entry}</pre>}
          {e.proof && <p><a href={`#/verify/${inc.id}/${k}`}>Verify this entry's proof in the browser</a></p>}
          {(e.checkpoints ?? []).map((c, j) => <pre key={j} tabIndex={0}>{c}</pre>)}
        </article>
      ))}
    </section>
  );
}
