// Flows: decisions over time by effect, and by destination and purpose.
import { useState } from "preact/hooks";
import { api, type Flows } from "./api";
import { ErrorLine, useLoad } from "./common";

const EFFECT_ORDER = ["allow", "pseudonymize", "approval", "deny"];

export function FlowsPage() {
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
