// The auditor's web console (issue 22; docs/console.md). Hash routes:
// #/login, #/overview, #/incidents, #/incidents/<id>, #/flows, #/verify,
// #/public (no login).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, setSession, type Flows, type Incident, type Overview, type PublicSummary, type Session } from "./api";
import { verifyEntryProof, type VerifyResult } from "./verify";

const SEVERITIES = ["critical", "high", "medium", "low"] as const;
const PAGE_SIZE = 20;

function useRoute(): string {
  const [route, setRoute] = useState(location.hash.slice(1) || "/overview");
  useEffect(() => {
    const on = () => setRoute(location.hash.slice(1) || "/overview");
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function go(route: string) {
  location.hash = route;
}

function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | null, string, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState("");
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setErr("")),
      (e) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 401) go("/login");
        setErr(e.message);
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return [data, err, () => setN(n + 1)];
}

// "41 h 12 min left" until the GDPR art. 33 deadline, or how long overdue.
function countdown(deadline: string, now: number): string {
  const ms = Date.parse(deadline) - now;
  const abs = Math.abs(ms);
  const h = Math.floor(abs / 3600e3);
  const m = Math.floor((abs % 3600e3) / 60e3);
  return ms >= 0 ? `${h} h ${m} min left` : `overdue by ${h} h ${m} min`;
}

function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30e3);
    return () => clearInterval(t);
  }, []);
  return now;
}

function ErrorLine({ msg }: { msg: string }) {
  return msg ? <p class="error" role="alert">{msg}</p> : null;
}

function Login({ onLogin }: { onLogin: (s: Session) => void }) {
  const [token, setToken] = useState("");
  const [err, setErr] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const s = await api<Session>("/ui/api/login", { method: "POST", body: { token } });
      onLogin(s);
      go("/overview");
    } catch (ex) {
      setErr((ex as Error).message);
    }
  };
  return (
    <section class="narrow">
      <h1>Sign in to the auditor's console</h1>
      <p>Use the auditor's admin credential (for the demo: the token in <code>demo-data/keys/auditor.admin.token</code>).</p>
      <form onSubmit={submit}>
        <label for="token">Credential</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} required />
        <button type="submit">Sign in</button>
      </form>
      <ErrorLine msg={err} />
      <p><a href="#/public">Public transparency page</a> (no sign-in)</p>
    </section>
  );
}

function cosignatures(note: string): number {
  const i = note.indexOf("\n\n");
  return i < 0 ? 0 : note.slice(i + 2).split("\n").filter((l) => l.startsWith("\u2014 ")).length;
}

function OverviewPage() {
  const now = useNow();
  const [ov, err1] = useLoad(() => api<Overview>("/ui/api/overview"), []);
  const [inc, err2] = useLoad(() => api<{ incidents: Incident[] }>("/v1/incidents"), []);
  const [flows, err3] = useLoad(() => api<Flows>("/v1/flows"), []);
  const open = (inc?.incidents ?? []).filter((i) => i.status !== "resolved");
  const sinceHour = now - 3600e3;
  const lastDay = (flows?.transfers ?? []).reduce((a, t) => a + t.requests, 0);
  const lastHour = (flows?.transfers ?? []).filter((t) => Date.parse(t.hour) >= sinceHour - 3600e3)
    .reduce((a, t) => a + t.requests, 0);
  return (
    <section>
      <h1>Overview</h1>
      <ErrorLine msg={err1 || err2 || err3} />
      <h2>Logs followed</h2>
      <table>
        <thead><tr><th scope="col">Log</th><th scope="col">Verified size</th><th scope="col">State</th><th scope="col">Signatures on the checkpoint</th></tr></thead>
        <tbody>
          {(ov?.logs ?? []).map((l) => (
            <tr key={l.origin}>
              <td>{l.origin}</td>
              <td>{l.size}</td>
              <td>{l.failing ? <span class="bad">last poll failed</span> : l.polled ? <span class="good">verified, up to date</span> : "not yet polled"}</td>
              <td>{cosignatures(l.checkpoint)} (log + witnesses)</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Open incidents by severity</h2>
      <ul class="cards">
        {SEVERITIES.map((s) => {
          const list = open.filter((i) => i.severity === s);
          const first = list.map((i) => i.notification_deadline).sort()[0];
          return (
            <li key={s} class={`card sev-${s}`}>
              <span class="big">{list.length}</span> {s}
              {first && <div class="small">GDPR 72 h: {countdown(first, now)}</div>}
            </li>
          );
        })}
      </ul>
      <h2>Flows</h2>
      <p>Requests in the last hour: <strong>{lastHour}</strong>; in the last day: <strong>{lastDay}</strong>. <a href="#/flows">Chart</a></p>
    </section>
  );
}

function IncidentsPage() {
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

function IncidentDetail({ id, session }: { id: string; session: Session | null }) {
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

function VerifyPage({ incident, item }: { incident: string; item: number }) {
  const [data, err] = useLoad(() => Promise.all([api<{ incidents: Incident[] }>("/v1/incidents"), api<Overview>("/ui/api/overview")]), []);
  const [entry, setEntry] = useState("");
  const [proof, setProof] = useState("");
  const [vkey, setVkey] = useState("");
  const [result, setResult] = useState<VerifyResult | null>(null);
  const [choice, setChoice] = useState(incident ? `${incident}/${item}` : "");
  const withProofs: { label: string; value: string; entry: string; proof: string; origin: string }[] = [];
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

const EFFECT_ORDER = ["allow", "pseudonymize", "approval", "deny"];

function FlowsPage() {
  const [data, err] = useLoad(() => api<Flows>("/v1/flows"), []);
  const [dest, setDest] = useState("");
  const flows = (data?.flows ?? []).filter((f) => !dest || f.destination === dest);
  const dests = Array.from(new Set((data?.flows ?? []).map((f) => f.destination))).sort();
  const hours = Array.from(new Set(flows.map((f) => f.hour))).sort();
  const byHour = hours.map((h) => EFFECT_ORDER.map((e) => flows.filter((f) => f.hour === h && f.effect === e).reduce((a, f) => a + f.decisions, 0)));
  const max = Math.max(1, ...byHour.map((v) => v.reduce((a, b) => a + b, 0)));
  const W = 640, H = 220, bw = hours.length ? Math.min(60, (W - 40) / hours.length) : 0;
  const byDest = new Map<string, Map<string, number>>();
  for (const f of flows) {
    const k = `${f.destination} · ${f.purpose}`;
    const m = byDest.get(k) ?? new Map<string, number>();
    m.set(f.effect, (m.get(f.effect) ?? 0) + f.decisions);
    byDest.set(k, m);
  }
  return (
    <section>
      <h1>Flows</h1>
      <ErrorLine msg={err} />
      <div class="field">
        <label for="fl-dest">Destination</label>
        <select id="fl-dest" value={dest} onChange={(e) => setDest((e.target as HTMLSelectElement).value)}>
          <option value="">all</option>
          {dests.map((d) => <option key={d} value={d}>{d}</option>)}
        </select>
      </div>
      <svg id="flows-chart" viewBox={`0 0 ${W} ${H + 40}`} role="img" aria-label="Field decisions per hour by effect">
        {byHour.map((v, i) => {
          let y = H;
          return v.map((n, e) => {
            const h = (n / max) * (H - 10);
            y -= h;
            return <rect key={`${i}-${e}`} class={`eff-${EFFECT_ORDER[e]}`} x={30 + i * bw} y={y} width={bw * 0.8} height={h}><title>{`${hours[i]} ${EFFECT_ORDER[e]}: ${n}`}</title></rect>;
          });
        })}
        {EFFECT_ORDER.map((e, k) => (
          <g key={e}><rect class={`eff-${e}`} x={30 + k * 130} y={H + 18} width={12} height={12} /><text x={46 + k * 130} y={H + 29}>{e}</text></g>
        ))}
      </svg>
      <h2>By destination and purpose</h2>
      <table>
        <thead><tr><th scope="col">Destination · purpose</th>{EFFECT_ORDER.map((e) => <th scope="col" key={e}>{e}</th>)}</tr></thead>
        <tbody>
          {Array.from(byDest.entries()).map(([k, m]) => (
            <tr key={k} class={k.startsWith("eu") ? "" : "transfer"}><td>{k}</td>{EFFECT_ORDER.map((e) => <td key={e}>{m.get(e) ?? 0}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function PublicPage() {
  const [data, err] = useLoad(() => api<PublicSummary>("/ui/api/public"), []);
  const totals = new Map<string, { requests: number; records: number }>();
  for (const a of data?.accesses ?? []) {
    const k = `${a.day}|${a.destination}|${a.purpose}|${a.action}`;
    const t = totals.get(k) ?? { requests: 0, records: 0 };
    t.requests += a.requests;
    t.records += a.records;
    totals.set(k, t);
  }
  return (
    <section>
      <h1>Transparency report</h1>
      <p>Published by the independent auditor from the logs it verifies. It names no person: counts only.</p>
      <ErrorLine msg={err} />
      <h2>Accesses and transfers per day, destination and purpose</h2>
      <table id="public-accesses">
        <thead><tr><th scope="col">Day</th><th scope="col">Destination</th><th scope="col">Purpose</th><th scope="col">Action</th><th scope="col">Requests</th><th scope="col">Records</th></tr></thead>
        <tbody>
          {Array.from(totals.entries()).map(([k, t]) => {
            const [d, dest, p, a] = k.split("|");
            return <tr key={k}><td>{d}</td><td>{dest}</td><td>{p}</td><td>{a}</td><td>{t.requests}</td><td>{t.records}</td></tr>;
          })}
        </tbody>
      </table>
      <h2>Incidents by severity</h2>
      <table id="public-incidents">
        <thead><tr><th scope="col">Severity</th><th scope="col">Open</th><th scope="col">Acknowledged</th><th scope="col">Resolved</th></tr></thead>
        <tbody>
          {SEVERITIES.map((s) => {
            const c = data?.incidents[s] ?? {};
            return <tr key={s}><td>{s}</td><td>{c.open ?? 0}</td><td>{c.acknowledged ?? 0}</td><td>{c.resolved ?? 0}</td></tr>;
          })}
        </tbody>
      </table>
      <h2>Verified checkpoints</h2>
      {(data?.checkpoints ?? []).map((c) => <details key={c.origin}><summary>{c.origin}: {c.size} entries</summary><pre tabIndex={0}>{c.checkpoint}</pre></details>)}
    </section>
  );
}

function App() {
  const route = useRoute();
  const [session, setSess] = useState<Session | null>(null);
  const [checked, setChecked] = useState(false);
  useEffect(() => {
    // A login link (`clover demo` prints one) carries the credential in the
    // fragment, which never reaches a server: use it once and drop it from
    // the address bar and history.
    const m = /^#\/login\?token=([^&]+)$/.exec(location.hash);
    if (m) {
      history.replaceState(null, "", location.pathname + "#/login");
      api<Session>("/ui/api/login", { method: "POST", body: { token: decodeURIComponent(m[1]) } }).then(
        (s) => { setSession(s); setSess(s); setChecked(true); go("/overview"); },
        () => { setChecked(true); go("/login"); },
      );
      return;
    }
    if (checked) return;
    api<Session>("/ui/api/session").then(
      (s) => { setSession(s); setSess(s); setChecked(true); },
      () => { setChecked(true); },
    );
  }, [route]);
  const login = (s: Session) => { setSession(s); setSess(s); };
  const logout = async () => {
    try { await api("/ui/api/logout", { method: "POST" }); } catch { /* already gone */ }
    setSession(null); setSess(null); go("/login");
  };
  const parts = route.split("?")[0].split("/").filter(Boolean);
  let page;
  if (parts[0] === "public") page = <PublicPage />;
  else if (!checked) page = <p>Loading…</p>;
  else if (!session || parts[0] === "login") page = <Login onLogin={login} />;
  else if (parts[0] === "incidents" && parts[1]) page = <IncidentDetail id={decodeURIComponent(parts[1])} session={session} />;
  else if (parts[0] === "incidents") page = <IncidentsPage />;
  else if (parts[0] === "flows") page = <FlowsPage />;
  else if (parts[0] === "verify") page = <VerifyPage incident={parts[1] ?? ""} item={Number(parts[2] ?? 0)} />;
  else page = <OverviewPage />;
  const link = (to: string, label: string) => (
    <a href={`#/${to}`} aria-current={parts[0] === to ? "page" : undefined}>{label}</a>
  );
  return (
    <>
      <header>
        <a class="skip" href="#main">Skip to content</a>
        <span class="brand">Clover auditor</span>
        <nav aria-label="Console">
          {session && <>{link("overview", "Overview")}{link("incidents", "Incidents")}{link("flows", "Flows")}{link("verify", "Verify")}</>}
          {link("public", "Public page")}
          {session ? <button class="link" onClick={logout}>Sign out {session.who}</button> : link("login", "Sign in")}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
