import { useState } from "preact/hooks";
import { Logo } from "../components/shell";
import { EXPIRED_FLAG, signInWithKey, signInWithPassword } from "../lib/api";
import { useAutofocus } from "../lib/hooks";

type Method = "password" | "key";

export function SignIn() {
  const [method, setMethod] = useState<Method>("password");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [expired] = useState(() => {
    const was = sessionStorage.getItem(EXPIRED_FLAG) === "1";
    sessionStorage.removeItem(EXPIRED_FLAG);
    return was;
  });
  const first = useAutofocus<HTMLInputElement>();

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      if (method === "password") {
        await signInWithPassword(String(form.get("login")), String(form.get("password")));
      } else {
        await signInWithKey(String(form.get("key")).trim());
      }
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <div class="signin-panel">
        <div class="signin-brand">
          <Logo />
        </div>
        <h1>Sign in</h1>
        <p class="muted">Run ComfyUI workflows on your GPU fleet.</p>
        {expired && (
          <div class="notice notice-warn" role="status">
            Your session has expired. Sign in again to continue.
          </div>
        )}
        <div class="segmented" role="tablist" aria-label="Sign-in method">
          {(["password", "key"] as const).map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={method === m}
              class={method === m ? "active" : ""}
              onClick={() => {
                setMethod(m);
                setError(null);
              }}
            >
              {m === "password" ? "Username & password" : "API key"}
            </button>
          ))}
        </div>
        <form onSubmit={submit} class="stack">
          {method === "password" ? (
            <>
              <label class="field">
                <span>Username or email</span>
                <input ref={first} name="login" autocomplete="username" required />
              </label>
              <label class="field">
                <span>Password</span>
                <input name="password" type="password" autocomplete="current-password" required />
              </label>
            </>
          ) : (
            <label class="field">
              <span>API key</span>
              <input
                ref={first}
                name="key"
                placeholder="ce_live_…"
                autocomplete="off"
                required
                spellcheck={false}
              />
            </label>
          )}
          {error && (
            <div class="notice notice-error" role="alert">
              {error}
            </div>
          )}
          <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </div>
  );
}
