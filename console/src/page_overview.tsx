// Overview: every followed log, open incidents by severity, recent flows.
import { api, type Flows, type Incident, type Overview } from "./api";
import { ErrorLine, SEVERITIES, countdown, useLoad, useNow } from "./common";
import { PendingApprovals } from "./page_approvals";

function cosignatures(note: string): number {
  const i = note.indexOf("\n\n");
  return i < 0 ? 0 : note.slice(i + 2).split("\n").filter((l) => l.startsWith("\u2014 ")).length;
}

export function OverviewPage() {
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
      <PendingApprovals />
      <h2>Flows</h2>
      <p>Requests in the last hour: <strong>{lastHour}</strong>; in the last day: <strong>{lastDay}</strong>. <a href="#/flows">Chart</a></p>
    </section>
  );
}
