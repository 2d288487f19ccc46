// The public transparency page (no sign-in, no staff identities).
import { api, type PublicSummary } from "./api";
import { ErrorLine, SEVERITIES, useLoad } from "./common";

export function PublicPage() {
  const [data, err] = useLoad(() => api<PublicSummary>("/ui/api/public"), []);
  const totals = new Map<string, { requests: number; records: number; out: boolean | null }>();
  for (const a of data?.accesses ?? []) {
    const k = `${a.day}|${a.region}|${a.destination}|${a.purpose}|${a.action}`;
    const t = totals.get(k) ?? { requests: 0, records: 0, out: a.out_of_region };
    t.requests += a.requests;
    t.records += a.records;
    totals.set(k, t);
  }
  return (
    <section>
      <h1>Transparency report</h1>
      <p>Published by the independent auditor from the logs it verifies. It names no person: counts only.</p>
      <ErrorLine msg={err} />
      <h2>Accesses and transfers per day, origin region, destination and purpose</h2>
      <table id="public-accesses">
        <thead><tr><th scope="col">Day</th><th scope="col">Origin region</th><th scope="col">Destination</th><th scope="col">Out of the region</th><th scope="col">Purpose</th><th scope="col">Action</th><th scope="col">Requests</th><th scope="col">Records</th></tr></thead>
        <tbody>
          {Array.from(totals.entries()).map(([k, t]) => {
            const [d, region, dest, p, a] = k.split("|");
            return <tr key={k} class={t.out === true ? "transfer" : ""}><td>{d}</td><td>{region || "unknown"}</td><td>{dest}</td><td>{t.out === true ? "yes" : t.out === false ? "no" : "unknown"}</td><td>{p}</td><td>{a}</td><td>{t.requests}</td><td>{t.records}</td></tr>;
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
      {data?.legacy_deletions && data.legacy_deletions.batches > 0 && (
        <>
          <h2>Legacy data migrated home and deleted at its source</h2>
          <table id="public-legacy-deletions">
            <thead><tr><th scope="col">Batches</th><th scope="col">Records</th><th scope="col">Deletion verified</th><th scope="col">Not verified</th><th scope="col">Not checked yet</th></tr></thead>
            <tbody><tr><td>{data.legacy_deletions.batches}</td><td>{data.legacy_deletions.records}</td><td>{data.legacy_deletions.verified}</td><td>{data.legacy_deletions.unverified}</td><td>{data.legacy_deletions.unchecked}</td></tr></tbody>
          </table>
        </>
      )}
      <h2>Verified checkpoints</h2>
      {(data?.checkpoints ?? []).map((c) => <details key={c.origin}><summary>{c.origin}: {c.size} entries</summary><pre tabIndex={0}>{c.checkpoint}</pre></details>)}
    </section>
  );
}
