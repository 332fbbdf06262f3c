import { duration, relativeTime, shortId } from "../lib/format";
import { useNow } from "../lib/hooks";
import { navigate } from "../lib/router";
import type { Run } from "../lib/types";
import { EmptyState, Loading, ProgressBar, StatusBadge } from "./ui";

/** Runs, newest first; a row opens its run (click, or Enter on the focused row's link). */
export function RunsTable({
  runs,
  compact = false,
  names = {},
}: {
  runs: Run[] | null;
  compact?: boolean;
  names?: Record<string, string>;
}) {
  const now = useNow(5000);
  if (!runs) return <Loading />;
  if (runs.length === 0)
    return (
      <EmptyState title="No runs yet">
        Start one from a <a href="/app/deployments">deployment</a>, or with{" "}
        <code>POST /api/run/deployment/queue</code>.
      </EmptyState>
    );
  return (
    <div class="table-wrap">
      <table class="table" data-testid="runs-table">
        <thead>
          <tr>
            <th>Run</th>
            <th>Status</th>
            {!compact && <th>Deployment</th>}
            <th>Progress</th>
            {!compact && <th>Duration</th>}
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr
              key={run.id}
              class="row-link"
              data-run-id={run.id}
              onClick={() => navigate(`/runs/${run.id}`)}
            >
              <td>
                <a href={`/app/runs/${run.id}`} class="mono" onClick={(e) => e.stopPropagation()}>
                  {shortId(run.id)}
                </a>
              </td>
              <td>
                <StatusBadge status={run.status} />
              </td>
              {!compact && (
                <td>{run.deployment_id ? (names[run.deployment_id] ?? shortId(run.deployment_id)) : "—"}</td>
              )}
              <td class="cell-progress">
                <ProgressBar value={run.progress * 100} label={`Run ${shortId(run.id)} progress`} />
              </td>
              {!compact && <td class="mono">{duration(run.duration)}</td>}
              <td title={run.created_at}>{relativeTime(run.created_at, now)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
