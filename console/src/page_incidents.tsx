// Incidents: the filtered list and one incident's detail and actions.
import { useState } from "preact/hooks";
import { api, type Incident, type Session } from "./api";
import { ErrorLine, PAGE_SIZE, SEVERITIES, countdown, go, useLoad, useNow } from "./common";

export function IncidentsPage() {
  const now = useNow();
  const [sev, setSev] = useState("");
  const [status, setStatus] = useState("");
  const [detector, setDetector] = useState("");
  const [since, setSince] = useState("");
  const [page, setPage] = useState(0);
  const [data, err] = useLoad(() => api<{ incidents: Incident[] }>(`/v1/incidents${status ? `?status=${status}` : ""}`), [status]);
  const all = data?.incidents ?? [];
  const detectors = Array.from(new Set(all.map((i) => i.detector))).sort();
  const shown = all.filter((i) => (!sev || i.severity === sev) && (!detector || i.detector === detector) &&
    (!since || Date.parse(i.last_seen) >= Date.parse(since)));
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
  const p = Math.min(page, pages - 1);
  const select = (label: string, id: string, value: string, set: (v: string) => void, options: readonly string[]) => (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => { set((e.target as HTMLSelectElement).value); setPage(0); }}>
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
        {select("Detector", "f-det", detector, setDetector, detectors)}
        <div class="field">
          <label for="f-since">Seen since</label>
          <input id="f-since" type="datetime-local" value={since} onInput={(e) => { setSince((e.target as HTMLInputElement).value); setPage(0); }} />
        </div>
      </div>
      <table>
        <thead><tr><th scope="col">Severity</th><th scope="col">Detector</th><th scope="col">Summary</th><th scope="col">Status</th><th scope="col">GDPR 72 h</th></tr></thead>
        <tbody>
          {shown.slice(p * PAGE_SIZE, (p + 1) * PAGE_SIZE).map((i) => (
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
        <button disabled={p === 0} onClick={() => setPage(p - 1)}>Previous</button>
        <span>Page {p + 1} of {pages} ({shown.length} incidents)</span>
        <button disabled={p >= pages - 1} onClick={() => setPage(p + 1)}>Next</button>
      </nav>
    </section>
  );
}

export function IncidentDetail({ id, session }: { id: string; session: Session | null }) {
  const now = useNow();
  const [data, err, reload] = useLoad(() => api<{ incidents: Incident[] }>("/v1/incidents"), [id]);
  const [actErr, setActErr] = useState("");
  const [note, setNote] = useState("");
  const inc = data?.incidents.find((i) => i.id === id);
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
  if (!inc) return <section><h1>Incident</h1><ErrorLine msg={err} />{data && <p>No incident {id}.</p>}</section>;
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
