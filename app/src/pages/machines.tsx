import { useEffect, useState } from "preact/hooks";
import { InstanceList } from "../components/instance-list";
import { Card, CopyButton, EmptyState, ErrorNotice, Loading, PageHeader } from "../components/ui";
import { api } from "../lib/api";
import { useFleetChanges } from "../lib/fleet-live";
import { relativeTime } from "../lib/format";
import { useApi, useNow } from "../lib/hooks";
import type { FleetInstance, Machine, Run } from "../lib/types";

function vram(g: Machine["gpus"][number]): string {
  if (!g.memory_total_mb) return "";
  const total = (g.memory_total_mb / 1024).toFixed(0);
  const used = g.memory_used_mb !== undefined ? `${(g.memory_used_mb / 1024).toFixed(1)} / ` : "";
  return ` · ${used}${total} GB`;
}

type CardProps = {
  machine: Machine;
  /** Its instances as the fleet routes report them; empty while its agent is away. */
  live: FleetInstance[];
  busy: number;
  now: number;
  onSaved: (i: FleetInstance) => void;
};

function MachineCard({ machine, live, busy, now, onSaved }: CardProps) {
  const state = machine.status !== "online" ? machine.status : busy > 0 ? "busy" : "idle";
  return (
    <article class="card machine" data-testid="machine-card">
      <div class="card-row">
        <h3>{machine.name}</h3>
        <span class={`pill pill-${state}`}>
          <span class="badge-dot" aria-hidden="true" /> {state}
        </span>
      </div>
      <dl class="meta">
        <div>
          <dt>Pool</dt>
          <dd>{machine.pool}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd title={machine.last_seen_at ?? ""}>{relativeTime(machine.last_seen_at, now)}</dd>
        </div>
        <div>
          <dt>Running</dt>
          <dd>{busy} run(s)</dd>
        </div>
        <div>
          <dt>Agent</dt>
          <dd>{String(machine.agent?.version ?? "—")}</dd>
        </div>
      </dl>
      <h4 class="subhead">GPUs</h4>
      {machine.gpus.length === 0 ? (
        <p class="muted small">None reported.</p>
      ) : (
        <ul class="plain-list">
          {machine.gpus.map((g) => (
            <li key={g.index}>
              <span class="mono">#{g.index}</span> {g.name}
              <span class="muted">{vram(g)}</span>
            </li>
          ))}
        </ul>
      )}
      <h4 class="subhead">ComfyUI instances</h4>
      {live.length > 0 ? (
        <InstanceList instances={live} onSaved={onSaved} />
      ) : (
        <ul class="plain-list">
          {machine.instances.map((i) => (
            <li key={i.id}>
              <span class="dot dot-bad" aria-hidden="true" /> <span class="mono">{i.id}</span>{" "}
              <span class="muted small">not connected</span>
            </li>
          ))}
        </ul>
      )}
    </article>
  );
}

function AddMachine({ onAdded }: { onAdded: () => void }) {
  const [token, setToken] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget as HTMLFormElement).get("name"));
    try {
      const created = await api<{ token: string }>("/machine/custom", { method: "POST", body: { name } });
      setToken(created.token);
      onAdded();
    } catch (err) {
      setError(err as Error);
    }
  };
  if (token) {
    const command = `npx comfy-edge-agent --server ${location.origin} --token ${token}`;
    return (
      <div class="notice notice-ok">
        <strong>Machine token — shown once.</strong> Start the agent next to ComfyUI with:
        <pre class="code">{command}</pre>
        <CopyButton text={token} label="Copy token" />
      </div>
    );
  }
  return (
    <form class="inline-form" onSubmit={add}>
      <input name="name" placeholder="Machine name, e.g. rtx-4090-box" required aria-label="Machine name" />
      <button class="btn btn-primary" type="submit">
        Add machine
      </button>
      {error && <span class="error-text small">{error.message}</span>}
    </form>
  );
}

export function Machines() {
  const machines = useApi<Machine[]>("/machines", 5000);
  const instances = useApi<{ data: FleetInstance[] }>("/instances", 5000);
  // What a switch just saved shows at once; the next read of the list replaces it.
  const [saved, setSaved] = useState<Record<string, FleetInstance>>({});
  useEffect(() => setSaved({}), [instances.data]);
  useFleetChanges(instances.reload);
  const onSaved = (i: FleetInstance) => {
    setSaved((s) => ({ ...s, [i.id]: i }));
    instances.reload();
  };
  const liveOf = (id: string) =>
    (instances.data?.data ?? []).filter((i) => i.machine_id === id).map((i) => saved[i.id] ?? i);
  const active = useApi<{ runs: Run[] }>("/runs?status=queued,running,uploading&limit=100", 5000);
  const now = useNow(5000);
  const busy = (id: string) => (active.data?.runs ?? []).filter((r) => r.machine_id === id).length;
  return (
    <>
      <PageHeader
        title="Machines"
        subtitle="GPU hosts whose agents dial in, live. A disabled instance takes no new job and finishes the one it has."
      />
      <Card title="Connect a GPU host">
        <AddMachine onAdded={machines.reload} />
      </Card>
      {machines.error && <ErrorNotice error={machines.error} retry={machines.reload} />}
      {!machines.data && !machines.error && <Loading />}
      {machines.data?.length === 0 && (
        <EmptyState title="No machines yet">Add one above, then run the agent on the GPU host.</EmptyState>
      )}
      <div class="grid-cards">
        {machines.data?.map((m) => (
          <MachineCard
            key={m.id}
            machine={m}
            live={liveOf(m.id)}
            busy={busy(m.id)}
            now={now}
            onSaved={onSaved}
          />
        ))}
      </div>
    </>
  );
}
