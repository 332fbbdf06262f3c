import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { signOut } from "../lib/api";
import type { Session } from "../lib/session";
import { applyTheme, storedTheme, type Theme } from "../lib/theme";
import { Icon } from "./icons";

const NAV = [
  { href: "/app/runs", label: "Runs", icon: "runs" },
  { href: "/app/deployments", label: "Deployments", icon: "deployments" },
  { href: "/app/machines", label: "Machines", icon: "machines" },
  { href: "/app/files", label: "Files", icon: "files" },
  { href: "/app/keys", label: "API keys", icon: "keys" },
] as const;

const NEXT_THEME: Record<Theme, Theme> = { system: "dark", dark: "light", light: "system" };

export function Logo() {
  return (
    <span class="logo">
      <span class="logo-mark" aria-hidden="true">
        <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
          <rect width="32" height="32" rx="8" fill="currentColor" />
          <path d="M9 21l7-11 7 11z" fill="var(--logo-fg)" />
        </svg>
      </span>
      comfy-edge
    </span>
  );
}

export function Shell(props: { path: string; session: Session; children: ComponentChildren }) {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const [menuOpen, setMenuOpen] = useState(false);
  // On small screens the menu closes once a page is chosen.
  useEffect(() => setMenuOpen(false), [props.path]);
  const switchTheme = () => {
    const next = NEXT_THEME[theme];
    applyTheme(next);
    setTheme(next);
  };
  return (
    <div class={`shell ${menuOpen ? "menu-open" : ""}`}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <aside class="sidebar">
        <div class="sidebar-top">
          <a href="/app/runs" class="brand">
            <Logo />
          </a>
          <button
            type="button"
            class="btn btn-ghost btn-sm menu-toggle"
            aria-expanded={menuOpen}
            onClick={() => setMenuOpen(!menuOpen)}
          >
            Menu
          </button>
        </div>
        <nav aria-label="Main">
          {NAV.map((item) => {
            const active = `/app${props.path}`.startsWith(item.href);
            return (
              <a
                key={item.href}
                href={item.href}
                class={`nav-link ${active ? "active" : ""}`}
                aria-current={active ? "page" : undefined}
              >
                <span class="nav-icon">
                  <Icon name={item.icon} />
                </span>
                {item.label}
              </a>
            );
          })}
        </nav>
        <div class="sidebar-foot">
          <div class="who">
            <span class="avatar" aria-hidden="true">
              {props.session.label.slice(0, 1).toUpperCase()}
            </span>
            <div>
              <div class="who-name" data-testid="signed-in-as">
                {props.session.label}
              </div>
              <div class="muted small">{props.session.kind === "key" ? "API key" : "Signed in"}</div>
            </div>
          </div>
          <div class="sidebar-actions">
            <button type="button" class="btn btn-ghost btn-sm" onClick={switchTheme} title="Switch theme">
              Theme: {theme}
            </button>
            <button type="button" class="btn btn-ghost btn-sm" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main id="main" class="main" tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}
