// Flows: decisions over time by effect, by destination and purpose, and the
// entries behind any bar or row (GET /v1/flows/entries), each verifiable in
// the browser.
import { useState } from "preact/hooks";
import { api, type Flows } from "./api";
import { ErrorLine, PAGE_SIZE, useLoad } from "./common";

const EFFECT_ORDER = ["allow", "generalize", "pseudonymize", "aggregate", "approval", "deny"];
// The auditor says of every flow which region it came from and whether its
// destination lies outside that region (docs/audit.md, "Flows"): the console
// takes its word and assumes no home region of its own.
export const regionLabel = (r: string) => r || "unknown";
const outLabel = (out: boolean | null | undefined) => (out === true ? " (out of region)" : out == null ? " (origin unknown)" : "");

// Every page of /v1/flows over [from, to).
export async function loadFlows(from: Date, to: Date): Promise<Flows> {
  const all: Flows = { from: from.toISOString(), to: to.toISOString(), flows: [], transfers: [] };
  let token = "";
  for (let pages = 0; pages < 100; pages++) {
    const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: "1000" });
    if (token) q.set("page_token", token);
    const page = await api<Flows & { next_page_token?: string }>(`/v1/flows?${q}`);
    all.flows.push(...page.flows);
    all.transfers.push(...page.transfers);
    if (!page.next_page_token) break;
    token = page.next_page_token;
  }
  return all;
}

export interface FlowEntry {
  origin: string;
  index: number;
  time: string;
  principal: string;
  action: string;
  purpose: string;
  destination: string;
  region?: string;
  origin_region: string;
  destination_region: string;
  out_of_region: boolean | null;
  node?: string;
  fields: { category: string; effect: string; fields: number }[];
}

interface Bucket {
  label: string;
  from: string;
  to: string;
  region?: string;
  destination?: string;
  purpose?: string;
  effect?: string;
}

// The entries behind one bucket, paged by the auditor.
function FlowEntries({ bucket }: { bucket: Bucket }) {
  const [tokens, setTokens] = useState<string[]>([""]);
  const p = tokens.length - 1;
  const q = new URLSearchParams({ from: bucket.from, to: bucket.to, limit: String(PAGE_SIZE) });
  if (bucket.region) q.set("region", bucket.region);
  if (bucket.destination) q.set("destination", bucket.destination);
  if (bucket.purpose) q.set("purpose", bucket.purpose);
  if (bucket.effect) q.set("effect", bucket.effect);
  if (tokens[p]) q.set("page_token", tokens[p]);
  const key = q.toString();
  const [loaded, err] = useLoad(() => api<{ entries: FlowEntry[]; next_page_token?: string }>(`/v1/flows/entries?${key}`).then((d) => ({ key, d })), [key]);
  const data = loaded?.key === key ? loaded.d : null;
  return (
    <section id="flow-entries" aria-labelledby="flow-entries-title">
      <h2 id="flow-entries-title" tabIndex={-1}>Entries: {bucket.label}</h2>
      <ErrorLine msg={err} />
      <div class="scroll" tabIndex={0} role="region" aria-label="Entries">
        <table>
          <thead><tr><th scope="col">Time</th><th scope="col">Log entry</th><th scope="col">Principal</th><th scope="col">Action · purpose</th><th scope="col">Origin region → destination</th><th scope="col">Fields</th><th scope="col">Proof</th></tr></thead>
          <tbody>
            {(data?.entries ?? []).map((e) => (
              <tr key={`${e.origin}/${e.index}`} class={e.out_of_region ? "transfer" : ""} data-region={e.origin_region} data-destination={e.destination}>
                <td class="nowrap">{e.time.slice(0, 10)} {e.time.slice(11, 19)}</td>
                <td>{e.origin} <span class="nowrap">#{e.index}</span></td>
                <td>{e.principal}</td>
                <td>{e.action} · {e.purpose}</td>
                <td>{regionLabel(e.origin_region)} → {e.destination}{outLabel(e.out_of_region)}</td>
                <td>{e.fields.map((f) => `${f.category}: ${f.effect}${f.fields > 1 ? ` ×${f.fields}` : ""}`).join(", ")}</td>
                <td class="nowrap"><a href={`#/verify/entry/${encodeURIComponent(e.origin)}/${e.index}`}>Verify</a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && data.entries.length === 0 && !data.next_page_token && <p>No entries.</p>}
      <nav class="pager" aria-label="Entry pages">
        <button disabled={p === 0} onClick={() => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t))}>Previous entries</button>
        <span aria-live="polite">{data ? `Page ${p + 1}` : `Page ${p + 1}: loading…`}</span>
        <button disabled={!data?.next_page_token} onClick={() => { const next = data?.next_page_token; if (next) setTokens((t) => [...t, next]); }}>Next entries</button>
      </nav>
    </section>
  );
}

export function FlowsPage() {
  const [span, setSpan] = useState(24);
  const [to] = useState(() => new Date(Math.ceil(Date.now() / 3600e3) * 3600e3));
  const from = new Date(to.getTime() - span * 3600e3);
  const [data, err] = useLoad(() => loadFlows(from, to), [span]);
  const [region, setRegion] = useState<string | null>(null);  // null: all
  const [dest, setDest] = useState("");
  const [purpose, setPurpose] = useState("");
  const [bucket, setBucket] = useState<Bucket | null>(null);
  const all = data?.flows ?? [];
  const flows = all.filter((f) => (region === null || f.region === region) && (!dest || f.destination === dest) && (!purpose || f.purpose === purpose));
  const regions = Array.from(new Set(all.map((f) => f.region))).sort();
  const dests = Array.from(new Set(all.map((f) => f.destination))).sort();
  const purposes = Array.from(new Set(all.map((f) => f.purpose))).sort();
  const effects = EFFECT_ORDER.filter((e) => e === "allow" || e === "pseudonymize" || e === "approval" || e === "deny" || all.some((f) => f.effect === e));
  const hours = Array.from(new Set(flows.map((f) => f.hour))).sort();
  const byHour = hours.map((h) => effects.map((e) => flows.filter((f) => f.hour === h && f.effect === e).reduce((a, f) => a + f.decisions, 0)));
  const outByHour = hours.map((h) => flows.filter((f) => f.hour === h && f.out_of_region === true).reduce((a, f) => a + f.decisions, 0));
  const max = Math.max(1, ...byHour.map((v) => v.reduce((a, b) => a + b, 0)));
  const W = 640, H = 220, lx = Math.min(118, (W - 30) / effects.length), bw = hours.length ? Math.min(60, (W - 40) / hours.length) : 0;
  const byDest = new Map<string, { region: string; destination: string; purpose: string; out: boolean | null; m: Map<string, number> }>();
  for (const f of flows) {
    const k = `${regionLabel(f.region)} → ${f.destination} · ${f.purpose}`;
    const row = byDest.get(k) ?? { region: f.region, destination: f.destination, purpose: f.purpose, out: f.out_of_region, m: new Map<string, number>() };
    row.m.set(f.effect, (row.m.get(f.effect) ?? 0) + f.decisions);
    byDest.set(k, row);
  }
  const window = { from: from.toISOString(), to: to.toISOString() };
  const drill = (b: Bucket) => {
    setBucket(b);
    setTimeout(() => document.getElementById("flow-entries-title")?.focus(), 0);
  };
  const select = (label: string, id: string, value: string, set: (v: string) => void, options: string[]) => (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => { set((e.target as HTMLSelectElement).value); setBucket(null); }}>
        <option value="">all</option>
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </div>
  );
  return (
    <section>
      <h1>Flows</h1>
      <ErrorLine msg={err} />
      <div class="filters">
        <div class="field">
          <label for="fl-span">Period</label>
          <select id="fl-span" value={String(span)} onChange={(e) => { setSpan(Number((e.target as HTMLSelectElement).value)); setBucket(null); }}>
            <option value="24">last day</option>
            <option value="168">last 7 days</option>
            <option value="720">last 30 days</option>
          </select>
        </div>
        <div class="field">
          <label for="fl-region">Origin region</label>
          <select id="fl-region" value={region === null ? "*" : `=${region}`} onChange={(e) => { const v = (e.target as HTMLSelectElement).value; setRegion(v === "*" ? null : v.slice(1)); setBucket(null); }}>
            <option value="*">all</option>
            {regions.map((r) => <option key={r} value={`=${r}`}>{regionLabel(r)}</option>)}
          </select>
        </div>
        {select("Destination", "fl-dest", dest, setDest, dests)}
        {select("Purpose", "fl-purpose", purpose, setPurpose, purposes)}
      </div>
      <p class="small">Select a bar, or a number in the table, to see the log entries behind it.</p>
      <svg id="flows-chart" viewBox={`0 0 ${W} ${H + 40}`} role="img" aria-label="Field decisions per hour by effect; transfers out of the region marked in red above each bar">
        {byHour.map((v, i) => {
          let y = H;
          const hourEnd = new Date(Date.parse(hours[i]) + 3600e3).toISOString();
          return [
            ...v.map((n, e) => {
              const h = (n / max) * (H - 20);
              y -= h;
              if (n === 0) return null;
              return (
                <rect key={`${i}-${e}`} class={`eff-${effects[e]} bar`} x={30 + i * bw} y={y} width={bw * 0.8} height={h}
                  onClick={() => drill({ label: `${hours[i]}, ${effects[e]}${region ? `, from ${region}` : ""}${dest ? `, to ${dest}` : ""}${purpose ? `, for ${purpose}` : ""}`, from: hours[i], to: hourEnd, region: region || undefined, destination: dest || undefined, purpose: purpose || undefined, effect: effects[e] })}>
                  <title>{`${hours[i]} ${effects[e]}: ${n}`}</title>
                </rect>
              );
            }),
            outByHour[i] > 0 ? <rect key={`${i}-out`} class="out-region" x={30 + i * bw} y={y - 8} width={bw * 0.8} height={5}><title>{`${hours[i]}: ${outByHour[i]} out of the region`}</title></rect> : null,
          ];
        })}
        {effects.map((e, k) => (
          <g key={e}><rect class={`eff-${e}`} x={30 + k * lx} y={H + 18} width={12} height={12} /><text x={46 + k * lx} y={H + 29}>{e}</text></g>
        ))}
      </svg>
      <h2>By origin region, destination and purpose</h2>
      <p class="small">Rows in red go out of the region the decision was made in (the auditor's judgement: a destination's region is the one that stores that jurisdiction).</p>
      <div class="scroll" tabIndex={0} role="region" aria-label="Flows by origin region, destination and purpose">
        <table id="flows-table">
          <thead><tr><th scope="col">Origin region → destination · purpose</th>{effects.map((e) => <th scope="col" key={e}>{e}</th>)}</tr></thead>
          <tbody>
            {Array.from(byDest.entries()).map(([k, row]) => {
              const out = row.out === true;
              return (
                <tr key={k} class={out ? "transfer" : ""} data-region={row.region} data-destination={row.destination}>
                  <td>{k}{outLabel(row.out)}</td>
                  {effects.map((e) => {
                    const n = row.m.get(e) ?? 0;
                    return <td key={e}>{n === 0 ? 0 : (
                      <button class="link cell" aria-label={`${n} ${e} decisions from ${regionLabel(row.region)} to ${row.destination} for ${row.purpose}: show the entries`}
                        onClick={() => drill({ label: `${regionLabel(row.region)} → ${row.destination} · ${row.purpose}, ${e}`, ...window, region: row.region || undefined, destination: row.destination, purpose: row.purpose, effect: e })}>{n}</button>
                    )}</td>;
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {bucket && <FlowEntries key={JSON.stringify(bucket)} bucket={bucket} />}
    </section>
  );
}
