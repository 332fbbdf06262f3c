import { RunsTable } from "../components/runs-table";
import { ErrorNotice, PageHeader } from "../components/ui";
import { useApi } from "../lib/hooks";
import { navigate, useLocation } from "../lib/router";
import { type Deployment, RUN_STATUSES, type Run } from "../lib/types";

/** How often the table refreshes: new runs appear and statuses move without a reload. */
const REFRESH_MS = 1500;

export function Runs() {
  const { query } = useLocation();
  const status = query.get("status") ?? "";
  const deployment = query.get("deployment_id") ?? "";
  const params = new URLSearchParams({ limit: "50" });
  if (status) params.set("status", status);
  if (deployment) params.set("deployment_id", deployment);
  const runs = useApi<{ runs: Run[]; total: number }>(`/runs?${params}`, REFRESH_MS);
  const deployments = useApi<Deployment[]>("/deployments");
  const names = Object.fromEntries((deployments.data ?? []).map((d) => [d.id, d.name]));

  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    const qs = next.toString();
    navigate(`/runs${qs ? `?${qs}` : ""}`, { replace: true });
  };

  return (
    <>
      <PageHeader
        title="Runs"
        subtitle={
          <span>
            <span class="live-dot" aria-hidden="true" /> Live ·{" "}
            {runs.data ? `${runs.data.total} total` : "loading"}
          </span>
        }
        actions={
          <a href="/app/deployments" class="btn btn-primary">
            New run
          </a>
        }
      />
      <div class="filters">
        <label class="field-inline">
          <span>Status</span>
          <select
            value={status}
            onChange={(e) => setFilter("status", (e.currentTarget as HTMLSelectElement).value)}
            aria-label="Filter by status"
          >
            <option value="">All statuses</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label class="field-inline">
          <span>Deployment</span>
          <select
            value={deployment}
            onChange={(e) => setFilter("deployment_id", (e.currentTarget as HTMLSelectElement).value)}
            aria-label="Filter by deployment"
          >
            <option value="">All deployments</option>
            {(deployments.data ?? []).map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {runs.error && <ErrorNotice error={runs.error} retry={runs.reload} />}
      <div class="card card-flush">
        <RunsTable runs={runs.data?.runs ?? (runs.error ? [] : null)} names={names} />
      </div>
    </>
  );
}
