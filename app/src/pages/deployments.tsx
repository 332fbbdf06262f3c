import { EmptyState, ErrorNotice, Loading, PageHeader } from "../components/ui";
import { relativeTime } from "../lib/format";
import { useApi } from "../lib/hooks";
import type { Deployment } from "../lib/types";

export function Deployments() {
  const { data, error, reload } = useApi<Deployment[]>("/deployments");
  return (
    <>
      <PageHeader
        title="Deployments"
        subtitle="Pinned workflow versions you can run through the API or from here."
      />
      {error && <ErrorNotice error={error} retry={reload} />}
      {!data && !error && <Loading />}
      {data && data.length === 0 && (
        <EmptyState title="No deployments yet">
          Create one with <code>POST /api/deployment</code> from a workflow; it shows up here with a run form.
        </EmptyState>
      )}
      {data && data.length > 0 && (
        <div class="grid-cards">
          {data.map((d) => (
            <a
              key={d.id}
              href={`/app/deployments/${d.id}`}
              class="card card-link"
              data-testid="deployment-card"
            >
              <div class="card-row">
                <h3>{d.name}</h3>
                <span class={`pill ${d.is_active ? "pill-ok" : "pill-muted"}`}>
                  {d.is_active ? "active" : "inactive"}
                </span>
              </div>
              {d.description && <p class="muted">{d.description}</p>}
              <dl class="meta">
                <div>
                  <dt>Environment</dt>
                  <dd>{d.environment}</dd>
                </div>
                <div>
                  <dt>Version</dt>
                  <dd>v{d.version}</dd>
                </div>
                <div>
                  <dt>Pool</dt>
                  <dd>{d.pool}</dd>
                </div>
                <div>
                  <dt>Updated</dt>
                  <dd>{relativeTime(d.updated_at ?? d.created_at)}</dd>
                </div>
              </dl>
              <span class="card-cta">Run →</span>
            </a>
          ))}
        </div>
      )}
    </>
  );
}
