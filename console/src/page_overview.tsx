// Overview: every followed log with its lag and witness, open incidents by
// severity with the GDPR clock, recent flows.
import { api, type Overview } from "./api";
import { ErrorLine, SEVERITIES, countdown, useLoad, useNow } from "./common";
import { PendingApprovals } from "./page_approvals";
import { loadFlows } from "./page_flows";

function cosignatures(note: string): number {
  const i = note.indexOf("\n\n");
  return i < 0 ? 0 : note.slice(i + 2).split("\n").filter((l) => l.startsWith("\u2014 ")).length;
}

// "3 min ago", "2 h 5 min ago".
function ago(t: string | null, now: number): string {
  if (!t) return "not yet";
  return `${duration((now - Date.parse(t)) / 1e3)} ago`;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min`;
}

export function OverviewPage() {
  const now = useNow();
  const [ov, err1] = useLoad(() => api<Overview>("/ui/api/overview"), []);
  const [flows, err3] = useLoad(() => loadFlows(new Date(Date.now() - 24 * 3600e3), new Date()), []);
  const sinceHour = now - 3600e3;
  const lastDay = (flows?.transfers ?? []).reduce((a, t) => a + t.requests, 0);
  // Hourly buckets: the last hour is the current bucket and the one before.
  const lastHour = (flows?.transfers ?? []).filter((t) => Date.parse(t.hour) >= sinceHour - 3600e3)
    .reduce((a, t) => a + t.requests, 0);
  return (
    <section>
      <h1>Overview</h1>
      <ErrorLine msg={err1 || err3} />
      <h2>Logs followed</h2>
      <div class="scroll" tabIndex={0} role="region" aria-label="Logs followed">
        <table id="overview-logs">
          <thead>
            <tr>
              <th scope="col">Log</th><th scope="col">Verified size</th><th scope="col">Last verified</th>
              <th scope="col">Latest seen</th><th scope="col">Lag</th><th scope="col">Witness</th><th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {(ov?.logs ?? []).map((l) => (
              <tr key={l.origin}>
                <td>{l.origin}</td>
                <td>{l.size}</td>
                <td>{ago(l.verified_at, now)}</td>
                <td>{l.latest_seen_size}</td>
                <td class="lag">{l.lag_entries === 0 ? <span class="good">up to date</span> :
                  <span class="bad">{l.lag_entries} entries, {duration(l.lag_seconds)} behind</span>}</td>
                <td>{l.witness ? `cosigned ${l.witness.size}` : "no cosignature"} · <span title="signatures on the verified checkpoint (the log's and the witnesses')">{cosignatures(l.checkpoint)} signatures</span></td>
                <td class="nowrap">{l.failing ? <span class="bad">last poll failed</span> : l.polled ? <span class="good">verified</span> : "not yet polled"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Open incidents by severity</h2>
      <ul class="cards">
        {SEVERITIES.map((s) => {
          const o = ov?.open_incidents?.[s];
          return (
            <li key={s} class={`card sev-${s}`}>
              <a href="#/incidents"><span class="big">{o?.count ?? 0}</span> {s}</a>
              {o?.nearest_deadline && <div class="small">GDPR 72 h: {countdown(o.nearest_deadline, now)}</div>}
            </li>
          );
        })}
      </ul>
      <PendingApprovals />
      <h2>Flows</h2>
      <p>Requests in the last hour: <strong id="flows-hour">{lastHour}</strong>; in the last day: <strong id="flows-day">{lastDay}</strong>. <a href="#/flows">Chart</a></p>
    </section>
  );
}
