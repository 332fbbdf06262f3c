import { useEffect, useRef, useState } from "preact/hooks";
import { OutputsGallery } from "../components/outputs";
import {
  Card,
  CopyButton,
  ErrorNotice,
  Loading,
  PageHeader,
  ProgressBar,
  StatusBadge,
} from "../components/ui";
import { api } from "../lib/api";
import { duration, relativeTime, shortId } from "../lib/format";
import { useApi, useNow } from "../lib/hooks";
import { navigate } from "../lib/router";
import { type LogLine, useRunLive } from "../lib/run-live";
import { type Progress, type Run, type RunError, TERMINAL } from "../lib/types";

function ProgressPanel({ progress, run, done }: { progress: Progress | null; run: Run; done: boolean }) {
  const now = useNow(1000);
  const pct = run.status === "success" ? 100 : (progress?.percentage ?? 0);
  const node = done
    ? run.status === "success"
      ? "Finished"
      : "Stopped"
    : progress?.current_node
      ? `${progress.current_node_type ?? "Node"} #${progress.current_node}`
      : run.status === "not-started"
        ? "Waiting for a machine"
        : "Starting";
  const step =
    !done && progress?.step != null && progress.total_steps
      ? ` · step ${progress.step}/${progress.total_steps}`
      : "";
  const elapsed = run.started_at
    ? ((run.ended_at ? Date.parse(run.ended_at) : now) - Date.parse(run.started_at)) / 1000
    : null;
  return (
    <div class="progress-panel">
      <div class="progress-head">
        <span class="progress-pct" data-testid="progress-pct">
          {Math.round(pct)}%
        </span>
        <span class="muted" data-testid="current-node">
          {node}
          {step}
        </span>
      </div>
      <ProgressBar value={pct} label="Run progress" />
      <dl class="meta meta-inline">
        <div>
          <dt>Nodes</dt>
          <dd>
            {progress
              ? `${run.status === "success" ? progress.nodes_total : progress.nodes_done}/${progress.nodes_total}`
              : "—"}
          </dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd data-testid="eta">
            {!done && progress?.eta_seconds != null ? duration(progress.eta_seconds) : "—"}
          </dd>
        </div>
        <div>
          <dt>Elapsed</dt>
          <dd>{duration(elapsed)}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>{run.attempt}</dd>
        </div>
      </dl>
    </div>
  );
}

function FailureCard({ error }: { error: RunError }) {
  return (
    <div class="notice notice-error failure" role="alert" data-testid="run-error">
      <div class="failure-title">
        <strong>{error.exception_type ?? error.code ?? "Run failed"}</strong>
        {error.node_id && (
          <span class="pill pill-danger">
            failed at {error.node_type ?? "node"} #{error.node_id}
          </span>
        )}
      </div>
      <p>{error.message}</p>
      {error.traceback && error.traceback.length > 0 && (
        <details>
          <summary>Traceback</summary>
          <pre class="console">{error.traceback.join("")}</pre>
        </details>
      )}
    </div>
  );
}

function Logs({ lines }: { lines: LogLine[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  if (lines.length === 0) return <p class="muted small">No logs yet.</p>;
  return (
    <div class="console" ref={box} role="log" data-testid="logs">
      {lines.map((l) => (
        <div key={l.seq} class={`log log-${l.level.toLowerCase()}`}>
          <span class="log-time">{new Date(l.at).toLocaleTimeString()}</span>
          <span class="log-level">{l.level}</span>
          <span class="log-msg">
            {l.node_id && <span class="muted">[{l.node_id}] </span>}
            {l.message}
          </span>
        </div>
      ))}
    </div>
  );
}

function Actions({ run, reload }: { run: Run; reload: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const act = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const terminal = TERMINAL.has(run.status);
  return (
    <>
      {error && <span class="error-text small">{error.message}</span>}
      {!terminal && (
        <button
          type="button"
          class="btn btn-danger"
          disabled={busy}
          onClick={() =>
            act(async () => {
              await api(`/run/${run.id}/cancel`, { method: "POST" });
              reload();
            })
          }
        >
          Cancel run
        </button>
      )}
      {terminal && run.status !== "success" && (
        <button
          type="button"
          class="btn btn-primary"
          disabled={busy}
          onClick={() =>
            act(async () => {
              const next = await api<{ execution_id: string }>(`/workflows/${run.id}/retry`, {
                method: "POST",
              });
              navigate(`/runs/${next.execution_id}`);
            })
          }
        >
          Retry
        </button>
      )}
    </>
  );
}

export function RunPage({ id }: { id: string }) {
  const live = useRunLive(id);
  const { data: run, error, reload } = useApi<Run>(`/run/${id}`);
  const liveStatus = live.snapshot?.status;
  // The REST view carries the signed output URLs and timings: refresh it whenever the status moves.
  useEffect(() => {
    if (liveStatus && run && liveStatus !== run.status) reload();
  }, [liveStatus, run?.status]);

  if (error) return <ErrorNotice error={error} retry={reload} />;
  if (!run) return <Loading />;
  const status = liveStatus && !TERMINAL.has(run.status) ? liveStatus : run.status;
  const done = TERMINAL.has(status);
  const shown = { ...run, status };
  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="/app/runs">Runs</a> / <span>{shortId(run.id)}</span>
      </nav>
      <PageHeader
        title={`Run ${shortId(run.id)}`}
        subtitle={
          <span class="run-sub">
            <StatusBadge status={status} />
            <span class="mono small">{run.id}</span>
            <CopyButton text={run.id} label="Copy id" />
            {!done && (
              <span class={`live-indicator ${live.connected ? "on" : ""}`}>
                {live.connected ? "Live" : "Reconnecting…"}
              </span>
            )}
          </span>
        }
        actions={<Actions run={shown} reload={reload} />}
      />
      {run.error && status !== "success" && <FailureCard error={run.error} />}
      <Card class="card-progress">
        <ProgressPanel progress={live.progress} run={shown} done={done} />
      </Card>
      <div class="two-col two-col-media">
        <Card title="Live preview">
          <div class="preview" data-testid="preview">
            {live.preview ? (
              <img src={live.preview} alt="Latest sampler preview" data-testid="preview-image" />
            ) : (
              <div class="preview-empty muted small">
                {done ? "No preview was sent for this run." : "The preview appears while the sampler runs."}
              </div>
            )}
          </div>
        </Card>
        <Card title="Outputs">
          <OutputsGallery groups={run.outputs} done={done} />
        </Card>
      </div>
      <Card title="Logs">
        <Logs lines={live.logs} />
      </Card>
      <Card title="Details">
        <dl class="meta meta-grid">
          <div>
            <dt>Deployment</dt>
            <dd>
              {run.deployment_id ? (
                <a href={`/app/deployments/${run.deployment_id}`}>{run.deployment_id.slice(0, 8)}</a>
              ) : (
                "—"
              )}
            </dd>
          </div>
          <div>
            <dt>Machine</dt>
            <dd class="mono" data-testid="run-machine">
              {run.machine_id?.slice(0, 8) ?? "—"}
            </dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd title={run.created_at}>{relativeTime(run.created_at)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{duration(run.duration)}</dd>
          </div>
          {run.retried_from && (
            <div>
              <dt>Retry of</dt>
              <dd>
                <a href={`/app/runs/${run.retried_from}`}>{run.retried_from.slice(0, 8)}</a>
              </dd>
            </div>
          )}
        </dl>
        <h3 class="subhead">Inputs</h3>
        <pre class="code">{JSON.stringify(run.workflow_inputs, null, 2)}</pre>
      </Card>
    </>
  );
}
