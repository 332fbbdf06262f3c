import { RunsTable } from "../components/runs-table";
import { ErrorNotice, FilterSelect, PageHeader } from "../components/ui";
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
        <FilterSelect
          label="Status"
          name="status"
          value={status}
          options={[["", "All statuses"], ...RUN_STATUSES.map((s): [string, string] => [s, s])]}
          onChange={(value) => setFilter("status", value)}
        />
        <FilterSelect
          label="Deployment"
          name="deployment"
          value={deployment}
          options={[
            ["", "All deployments"],
            ...(deployments.data ?? []).map((d): [string, string] => [d.id, d.name]),
          ]}
          onChange={(value) => setFilter("deployment_id", value)}
        />
      </div>
      {runs.error && <ErrorNotice error={runs.error} retry={runs.reload} />}
      <div class="card card-flush">
        <RunsTable runs={runs.data?.runs ?? (runs.error ? [] : null)} names={names} />
      </div>
    </>
  );
}
