// Approvals desk: the auditor issues, refuses and revokes grants at the nodes
// (audit/approvals_desk.h); every change is logged by the node.
import { useState } from "preact/hooks";
import { api, type Session } from "./api";
import { ErrorLine, useLoad, useNow } from "./common";

export interface DeskApproval {
  node: string;
  id: string;
  state: "pending" | "approved" | "denied" | "expired" | "revoked";
  principal: string;
  requested_by: string;
  justification: string;
  detail: string;
  subjects: string[];
  subject_pseudonyms?: string[];
  fields: string[];
  duration: string;
  max_duration?: string;
  requester_country: string;
  created: string;
  request_expires: string;
  decided_by: string;
  decided: string;
  reason: string;
  grant_expires: string;
  revoked_by?: string;
  revoked?: string;
  revoke_reason?: string;
}

// A desk node whose list or report goes on past what one look-up reads.
export interface DeskMore {
  node: string;
  page_token: string;
}

export interface DeskList {
  configured: boolean;
  approver?: string;
  approvals: DeskApproval[];
  unavailable: { node: string; error: string }[];
  more: DeskMore[];
}

// The query continuing `m` (audit/approvals_desk.h).
export function moreQuery(m: DeskMore): string {
  return `node=${encodeURIComponent(m.node)}&page_token=${encodeURIComponent(m.page_token)}`;
}

// Says which nodes have more than was read, with a button to read on: a list
// or a report is never cut short without saying so.
export function MoreNotice({ more, busy, onLoad }: { more: DeskMore[]; busy: boolean; onLoad: (m: DeskMore) => void }) {
  if (!more.length) return null;
  return (
    <div id="desk-more" class="result" role="status">
      {more.map((m) => (
        <p key={m.node}>
          {m.node} has more entries than one look-up reads.{" "}
          <button type="button" disabled={busy} onClick={() => onLoad(m)}>Load more from {m.node}</button>
        </p>
      ))}
    </div>
  );
}

// "4h0m0s" -> "4h"; "1h30m0s" -> "1h30m".
export function shortDuration(d: string | undefined): string {
  if (!d) return "";
  const s = d.replace(/(\d)0s$/, "$1").replace(/([hm])0m$/, "$1").replace(/h0m$/, "h");
  return s.replace(/m0s$/, "m");
}

function Unavailable({ list }: { list: { node: string; error: string }[] }) {
  if (!list.length) return null;
  return (
    <p class="error" role="alert">
      Not reached: {list.map((u) => `${u.node} (${u.error})`).join("; ")}
    </p>
  );
}

// The pending count the Overview shows.
export function PendingApprovals() {
  const [data, err] = useLoad(() => api<DeskList>("/ui/api/approvals?state=pending"), []);
  return (
    <>
      <h2>Pending approvals</h2>
      <ErrorLine msg={err} />
      {data && !data.configured ? (
        <p>The approvals desk is not configured (<code>approvals.desk</code>).</p>
      ) : (
        <p>
          <span id="pending-approvals" class="big">{data ? `${data.approvals.length}${data.more.length ? "+" : ""}` : "…"}</span> waiting for a decision.{" "}
          <a href="#/approvals">Approvals desk</a>
        </p>
      )}
    </>
  );
}

export function ApprovalsPage({ session }: { session: Session }) {
  const now = useNow();
  const [data, err, reloadFirst] = useLoad(() => api<DeskList>("/ui/api/approvals"), []);
  // Pages read on from nodes named in `more`, until the next reload.
  const [extra, setExtra] = useState<{ approvals: DeskApproval[]; more: DeskMore[] } | null>(null);
  const [moreErr, setMoreErr] = useState("");
  const [durations, setDurations] = useState<Record<string, string>>({});
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const admin = session.role === "admin";
  const more = extra ? extra.more : data?.more ?? [];
  const all = [...(data?.approvals ?? []), ...(extra?.approvals ?? [])];
  const reload = () => {
    setExtra(null);
    reloadFirst();
  };
  const loadMore = async (m: DeskMore) => {
    setBusy(true);
    setMoreErr("");
    try {
      const r = await api<DeskList>(`/ui/api/approvals?${moreQuery(m)}`);
      setExtra({
        approvals: [...(extra?.approvals ?? []), ...r.approvals],
        more: [...more.filter((x) => x.node !== m.node), ...r.more],
      });
    } catch (e) {
      setMoreErr((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const pending = all.filter((a) => a.state === "pending");
  const live = all.filter((a) => a.state === "approved" && Date.parse(a.grant_expires) > now);
  const history = all.filter((a) => a.state !== "pending");
  const key = (a: DeskApproval) => `${a.node}/${a.id}`;
  const act = async (a: DeskApproval, action: "approve" | "deny" | "revoke") => {
    setBusy(true);
    setResult(null);
    const body: Record<string, string> = { reason: reasons[key(a)] ?? "" };
    if (action === "approve") body.duration = durations[key(a)] ?? defaultDuration(a);
    try {
      const r = await api<{ approval: DeskApproval; log_index: number }>(
        `/ui/api/approvals/${encodeURIComponent(a.node)}/${encodeURIComponent(a.id)}/${action}`,
        { method: "POST", body },
      );
      const until = r.approval.state === "approved" ? `, grant until ${r.approval.grant_expires}` : "";
      setResult({ ok: true, text: `${a.id} on ${a.node}: ${r.approval.state}${until} (logged at index ${r.log_index})` });
      reload();
    } catch (e) {
      setResult({ ok: false, text: `${a.id} on ${a.node}: refused: ${(e as Error).message}` });
    } finally {
      setBusy(false);
    }
  };
  const reasonInput = (a: DeskApproval, what: string) => (
    <input
      id={`reason-${a.id}`}
      aria-label={`${what} reason for ${a.id}`}
      placeholder="reason"
      value={reasons[key(a)] ?? ""}
      onInput={(e) => setReasons({ ...reasons, [key(a)]: (e.target as HTMLInputElement).value })}
    />
  );
  return (
    <section>
      <h1>Approvals desk</h1>
      <p>
        Requests for exceptional access wait here for the auditor's decision. An approval is signed with the auditor's
        attestation key and sent to the node as <strong>{data?.approver ?? "the desk's principal"}</strong>; the node
        enforces the policy's limit on its duration and logs every decision before it applies it.
      </p>
      <ErrorLine msg={err} />
      {data && !data.configured && <p>The approvals desk is not configured (<code>approvals.desk</code> in the auditor's configuration).</p>}
      {data && <Unavailable list={data.unavailable} />}
      <MoreNotice more={more} busy={busy} onLoad={loadMore} />
      <ErrorLine msg={moreErr} />
      {result && (
        <div id="desk-result" class={result.ok ? "result good" : "result bad"} role="status">
          {result.text}
        </div>
      )}
      <h2>Pending requests</h2>
      {pending.length === 0 ? <p>None.</p> : (
        <table id="pending-table" class="cards">
          <thead>
            <tr>
              <th scope="col">Requester</th><th scope="col">Subjects (pseudonym)</th><th scope="col">Fields</th>
              <th scope="col">Justification</th><th scope="col">Duration asked</th><th scope="col">Policy limit</th>
              <th scope="col">Decision</th>
            </tr>
          </thead>
          <tbody>
            {pending.map((a) => (
              <tr key={key(a)} data-approval={a.id}>
                <td data-label="Requester">
                  {a.principal}
                  {a.requested_by && a.requested_by !== a.principal && <div class="small">filed by {a.requested_by}</div>}
                  <div class="small">{a.requester_country} · {a.node} · {a.id}</div>
                </td>
                <td data-label="Subjects (pseudonym)">
                  {a.subjects.map((s, k) => (
                    <div key={s}>{s}{a.subject_pseudonyms?.[k] && <div class="small mono">{a.subject_pseudonyms[k]}</div>}</div>
                  ))}
                </td>
                <td data-label="Fields">{a.fields.join(", ")}</td>
                <td data-label="Justification"><strong>{a.justification}</strong><div>{a.detail}</div></td>
                <td data-label="Duration asked">{shortDuration(a.duration)}</td>
                <td data-label="Policy limit">{a.max_duration ? shortDuration(a.max_duration) : "none"}</td>
                <td data-label="Decision">
                  {admin ? (
                    <>
                      <input
                        id={`dur-${a.id}`}
                        class="short"
                        aria-label={`Duration to grant for ${a.id}`}
                        value={durations[key(a)] ?? defaultDuration(a)}
                        onInput={(e) => setDurations({ ...durations, [key(a)]: (e.target as HTMLInputElement).value })}
                      />
                      {reasonInput(a, "Decision")}
                      <div>
                        <button disabled={busy} onClick={() => act(a, "approve")} aria-label={`Approve ${a.id}`}>Approve</button>
                        <button disabled={busy} onClick={() => act(a, "deny")} aria-label={`Deny ${a.id}`}>Deny</button>
                      </div>
                    </>
                  ) : "read-only credential"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Live grants</h2>
      {live.length === 0 ? <p>None.</p> : (
        <table id="live-table" class="cards">
          <thead><tr><th scope="col">Grantee</th><th scope="col">Subjects</th><th scope="col">Fields</th><th scope="col">Until</th><th scope="col">Approved by</th><th scope="col">Revoke</th></tr></thead>
          <tbody>
            {live.map((a) => (
              <tr key={key(a)} data-approval={a.id}>
                <td data-label="Grantee">{a.principal}<div class="small">{a.node} · {a.id}</div></td>
                <td data-label="Subjects">{a.subjects.join(", ")}</td>
                <td data-label="Fields">{a.fields.join(", ")}</td>
                <td data-label="Until">{a.grant_expires}</td>
                <td data-label="Approved by">{a.decided_by}<div class="small">{a.reason}</div></td>
                <td data-label="Revoke">
                  {admin ? (
                    <>
                      {reasonInput(a, "Revocation")}
                      <button disabled={busy} onClick={() => act(a, "revoke")} aria-label={`Revoke ${a.id}`}>Revoke</button>
                    </>
                  ) : "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>History</h2>
      {history.length === 0 ? <p>None.</p> : (
        <table id="history-table" class="cards">
          <thead><tr><th scope="col">Request</th><th scope="col">State</th><th scope="col">Decided</th><th scope="col">Grant</th></tr></thead>
          <tbody>
            {history.map((a) => (
              <tr key={key(a)} data-approval={a.id}>
                <td data-label="Request">{a.principal}: {a.justification} — {a.detail}<div class="small">{a.fields.join(", ")} · {a.subjects.join(", ")} · {a.node} · {a.id}</div></td>
                <td data-label="State">{a.state}</td>
                <td data-label="Decided">{a.decided_by ? `${a.decided_by} at ${a.decided}` : "—"}{a.reason && <div class="small">{a.reason}</div>}</td>
                <td data-label="Grant">
                  {a.state === "approved" || a.state === "revoked" ? `until ${a.grant_expires}` : "—"}
                  {a.state === "revoked" && <div class="small">revoked by {a.revoked_by} at {a.revoked}: {a.revoke_reason}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function defaultDuration(a: DeskApproval): string {
  return shortDuration(a.duration) || "1h";
}
