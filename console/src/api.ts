// The console's calls to the auditor: same-origin, cookie session, and the
// session's CSRF token on every change (audit/console.h).

export interface Session {
  who: string;
  role: "admin" | "read";
  csrf_token: string;
  expires: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public body: any = null,
  ) {
    super(message);
  }
}

let csrf = "";
export function setSession(s: Session | null) {
  csrf = s?.csrf_token ?? "";
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await r.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!r.ok) {
    throw new ApiError(r.status, data?.error?.code ?? "error", data?.error?.message ?? r.statusText, data);
  }
  return data as T;
}

export interface Evidence {
  origin: string;
  index?: number;
  entry_sha256?: string;
  entry?: string;
  proof?: string;
  checkpoints?: string[];
  note?: string;
}

export interface Incident {
  id: string;
  detector: string;
  severity: "low" | "medium" | "high" | "critical";
  key: string;
  summary: string;
  evidence: Evidence[];
  first_seen: string;
  last_seen: string;
  occurrences: number;
  status: "open" | "acknowledged" | "resolved";
  acknowledged_by?: string;
  resolved_by?: string;
  acknowledged_at?: string;
  resolved_at?: string;
  acknowledge_note?: string;
  resolve_note?: string;
  notification_deadline: string;
}

export interface LogState {
  origin: string;
  size: number;
  polled: boolean;
  failing: boolean;
  checkpoint: string;
  verifier_keys: string[];
  verified_at: string | null;
  latest_seen_size: number;
  latest_seen_at: string | null;
  lag_entries: number;
  lag_seconds: number;
  witness: { size: number; checkpoint: string } | null;
}

export interface Overview {
  logs: LogState[];
  witness_key: string;
  open_incidents: Record<string, { count: number; nearest_deadline: string | null }>;
}

// Each flow and transfer says its origin region (the region of the node that
// decided; "" for totals stored before flows carried one) and whether its
// destination lies outside it (null: origin unknown).
export interface Flow {
  hour: string;
  region: string;
  destination: string;
  destination_region: string;
  out_of_region: boolean | null;
  category: string;
  purpose: string;
  effect: string;
  decisions: number;
  values: number;
}

export interface Flows {
  from: string;
  to: string;
  flows: Flow[];
  transfers: { hour: string; region: string; destination: string; destination_region: string; out_of_region: boolean | null; purpose: string; action: string; requests: number; records: number; bytes: number }[];
}

export interface PublicSummary {
  from: string;
  to: string;
  accesses: { day: string; region: string; destination: string; out_of_region: boolean | null; purpose: string; action: string; requests: number; records: number }[];
  field_decisions: { day: string; region: string; destination: string; out_of_region: boolean | null; purpose: string; effect: string; decisions: number }[];
  incidents: Record<string, Record<string, number>>;
  checkpoints: { origin: string; size: number; checkpoint: string }[];
  // Legacy-migration deletions at the source, as the auditor verified them.
  legacy_deletions?: { batches: number; records: number; verified: number; unverified: number; unchecked: number };
}
