import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Shell } from "./components/shell";
import { match, navigate, useLocation } from "./lib/router";
import { getSession, onSessionChange, type Session } from "./lib/session";
import { applyTheme, storedTheme } from "./lib/theme";
import { Deployment } from "./pages/deployment";
import { Deployments } from "./pages/deployments";
import { Files } from "./pages/files";
import { Keys } from "./pages/keys";
import { Machines } from "./pages/machines";
import { RunPage } from "./pages/run";
import { Runs } from "./pages/runs";
import { SignIn } from "./pages/sign-in";
import "./styles.css";

applyTheme(storedTheme());

const ROUTES: [string, (p: Record<string, string>) => preact.JSX.Element][] = [
  ["/runs", () => <Runs />],
  ["/runs/:id", (p) => <RunPage id={p.id!} />],
  ["/deployments", () => <Deployments />],
  ["/deployments/:id", (p) => <Deployment id={p.id!} />],
  ["/machines", () => <Machines />],
  ["/files", () => <Files />],
  ["/keys", () => <Keys />],
];

function App() {
  const loc = useLocation();
  const [session, setSession] = useState<Session | null>(getSession);
  useEffect(() => onSessionChange(setSession), []);

  if (!session) return <SignIn />;
  if (loc.path === "/" || loc.path === "/signin") {
    navigate(loc.query.get("next") ?? "/runs", { replace: true });
    return null;
  }
  for (const [pattern, view] of ROUTES) {
    const params = match(pattern, loc.path);
    if (params)
      return (
        <Shell path={loc.path} session={session}>
          {view(params)}
        </Shell>
      );
  }
  return (
    <Shell path={loc.path} session={session}>
      <div class="empty">
        <h3>Page not found</h3>
        <p class="muted">
          <a href="/app/runs">Back to runs</a>
        </p>
      </div>
    </Shell>
  );
}

render(<App />, document.getElementById("root")!);
