import type { ComponentChildren } from "preact";
import type { RunStatus } from "../lib/types";

const STATUS_LABEL: Record<RunStatus, string> = {
  "not-started": "Waiting",
  queued: "Queued",
  running: "Running",
  uploading: "Uploading",
  success: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  timeout: "Timed out",
};

export function StatusBadge({ status }: { status: RunStatus }) {
  return (
    <span class={`badge badge-${status}`} data-status={status}>
      <span class="badge-dot" aria-hidden="true" />
      {STATUS_LABEL[status]}
    </span>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <div
      class="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct)}
    >
      <div class="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

export function PageHeader(props: {
  title: string;
  subtitle?: ComponentChildren;
  actions?: ComponentChildren;
}) {
  return (
    <header class="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.subtitle && <p class="muted">{props.subtitle}</p>}
      </div>
      {props.actions && <div class="page-actions">{props.actions}</div>}
    </header>
  );
}

export function EmptyState(props: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <div class="empty-icon" aria-hidden="true">
        ◇
      </div>
      <h3>{props.title}</h3>
      {props.children && <div class="muted">{props.children}</div>}
    </div>
  );
}

export function ErrorNotice({ error, retry }: { error: Error; retry?: () => void }) {
  return (
    <div class="notice notice-error" role="alert">
      <strong>Something went wrong.</strong> <span>{error.message}</span>
      {retry && (
        <button type="button" class="btn btn-ghost btn-sm" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div class="loading" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {label}
    </div>
  );
}

export function Card(props: {
  title?: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <section class={`card ${props.class ?? ""}`}>
      {(props.title || props.actions) && (
        <div class="card-header">
          <h2>{props.title}</h2>
          {props.actions}
        </div>
      )}
      {props.children}
    </section>
  );
}

/** Copies text and says so briefly. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  return (
    <button
      type="button"
      class="btn btn-ghost btn-sm"
      onClick={async (e) => {
        const button = e.currentTarget;
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        button.textContent = "Copied";
        setTimeout(() => {
          button.textContent = label;
        }, 1200);
      }}
    >
      {label}
    </button>
  );
}

/** A full-width table in a flush card, with a last, unlabelled column for each row's actions. */
export function ActionTable(props: { columns: string[]; children: ComponentChildren }) {
  return (
    <div class="card card-flush">
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              {props.columns.map((column) => (
                <th key={column}>{column}</th>
              ))}
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>{props.children}</tbody>
        </table>
      </div>
    </div>
  );
}

/** A row action that destroys something (delete, revoke). */
export function DangerButton(props: { onClick: () => void; children: ComponentChildren }) {
  return (
    <button type="button" class="btn btn-ghost btn-sm btn-danger-text" onClick={props.onClick}>
      {props.children}
    </button>
  );
}

/** A labelled select above a list that narrows it; `options` are [value, label] pairs. */
export function FilterSelect(props: {
  label: string;
  name: string;
  value: string;
  options: [string, string][];
  onChange: (value: string) => void;
}) {
  return (
    <label class="field-inline">
      <span>{props.label}</span>
      <select
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
        aria-label={`Filter by ${props.name}`}
      >
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}
