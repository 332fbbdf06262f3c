import { useState } from "preact/hooks";
import { type FieldValue, InputField } from "../components/input-field";
import { RunsTable } from "../components/runs-table";
import { Card, ErrorNotice, Loading, PageHeader } from "../components/ui";
import { api } from "../lib/api";
import { useApi } from "../lib/hooks";
import { navigate } from "../lib/router";
import type { DeploymentInput, Deployment as DeploymentRow, Run } from "../lib/types";

type Spec = { inputs: DeploymentInput[]; version: number };

function RunForm({ deployment, spec }: { deployment: DeploymentRow; spec: Spec }) {
  const [values, setValues] = useState<Record<string, FieldValue>>({});
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const uploading = Object.values(values).some((v) => v.pending);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const inputs = Object.fromEntries(
      Object.entries(values).flatMap(([k, v]) => (v.value === undefined ? [] : [[k, v.value]])),
    );
    try {
      const queued = await api<{ run_id: string }>("/run/deployment/queue", {
        method: "POST",
        body: { deployment_id: deployment.id, inputs },
      });
      navigate(`/runs/${queued.run_id}`);
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} class="stack" aria-label="Run form">
      {spec.inputs.length === 0 && <p class="muted">This deployment takes no inputs.</p>}
      {spec.inputs.map((input) => (
        <InputField
          key={input.input_id}
          input={input}
          onChange={(v) => setValues((all) => ({ ...all, [input.input_id]: v }))}
        />
      ))}
      {error && <ErrorNotice error={error} />}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy || uploading || !deployment.is_active}>
          {uploading ? "Waiting for upload…" : busy ? "Queuing…" : "Run"}
        </button>
        {!deployment.is_active && <span class="muted small">This deployment is inactive.</span>}
      </div>
    </form>
  );
}

export function Deployment({ id }: { id: string }) {
  const deployment = useApi<DeploymentRow>(`/deployment/${id}`);
  const spec = useApi<Spec>(`/deployment/${id}/inputs`);
  const runs = useApi<{ runs: Run[] }>(`/runs?deployment_id=${encodeURIComponent(id)}&limit=10`, 2000);
  const failure = deployment.error ?? spec.error;
  if (failure) return <ErrorNotice error={failure} retry={deployment.reload} />;
  if (!deployment.data || !spec.data) return <Loading />;
  const d = deployment.data;
  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="/app/deployments">Deployments</a> / <span>{d.name}</span>
      </nav>
      <PageHeader title={d.name} subtitle={`${d.environment} · v${spec.data.version} · pool ${d.pool}`} />
      <div class="two-col">
        <Card title="New run">
          <RunForm deployment={d} spec={spec.data} />
        </Card>
        <Card title="Recent runs">
          <RunsTable runs={runs.data?.runs ?? null} compact />
        </Card>
      </div>
    </>
  );
}
