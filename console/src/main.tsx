// The auditor's web console (issue 22; docs/console.md). Hash routes:
// #/login, #/overview, #/incidents, #/incidents/<id>, #/flows, #/policy,
// #/verify, #/approvals, #/subject/<id>, #/public (no login).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, setSession, type Session } from "./api";
import { go, useRoute } from "./common";
import { FlowsPage } from "./page_flows";
import { IncidentDetail, IncidentsPage } from "./page_incidents";
import { ApprovalsPage } from "./page_approvals";
import { Login } from "./page_login";
import { OverviewPage } from "./page_overview";
import { PolicyPage } from "./page_policy";
import { PublicPage } from "./page_public";
import { SubjectPage } from "./page_subject";
import { VerifyPage } from "./page_verify";

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
  else if (parts[0] === "approvals") page = <ApprovalsPage session={session} />;
  else if (parts[0] === "subject") page = <SubjectPage subject={decodeURIComponent(parts[1] ?? "")} />;
  else if (parts[0] === "policy") page = <PolicyPage session={session} />;
  else if (parts[0] === "verify" && parts[1] === "entry") page = <VerifyPage incident="" item={0} entry={{ origin: decodeURIComponent(parts[2] ?? ""), index: Number(parts[3] ?? 0) }} />;
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
          {session && <>{link("overview", "Overview")}{link("incidents", "Incidents")}{link("flows", "Flows")}{link("approvals", "Approvals")}{link("subject", "Subjects")}{link("policy", "Policy")}{link("verify", "Verify")}</>}
          {link("public", "Public page")}
          {session ? <button class="link" onClick={logout}>Sign out {session.who}</button> : link("login", "Sign in")}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
