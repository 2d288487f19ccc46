// Sign-in with the auditor's admin credential.
import { useState } from "preact/hooks";
import { api, type Session } from "./api";
import { ErrorLine, go } from "./common";

export function Login({ onLogin }: { onLogin: (s: Session) => void }) {
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
