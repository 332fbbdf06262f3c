import { useState } from "preact/hooks";
import { api } from "../lib/api";
import type { FleetInstance } from "../lib/types";

function stateOf(i: FleetInstance): { label: string; pill: string } {
  if (!i.enabled) return { label: "disabled", pill: "muted" };
  if (!i.alive) return { label: "down", pill: "danger" };
  return i.busy ? { label: "busy", pill: "busy" } : { label: "idle", pill: "idle" };
}

/**
 * A switch that enables or disables one instance (`PUT /api/instances/{id}`). A disabled instance
 * takes no new job and finishes the one it has; the list shows the state the API answered with.
 */
function EnabledSwitch({
  instance,
  onSaved,
}: {
  instance: FleetInstance;
  onSaved: (i: FleetInstance) => void;
}) {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = async () => {
    setSaving(true);
    setError(null);
    try {
      const reply = await api<{ data: FleetInstance }>(`/instances/${encodeURIComponent(instance.id)}`, {
        method: "PUT",
        body: { enabled: !instance.enabled },
      });
      onSaved(reply.data);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSaving(false);
    }
  };
  return (
    <span class="switch-wrap">
      <button
        type="button"
        role="switch"
        class="switch"
        aria-checked={instance.enabled}
        aria-label={`${instance.instance_id} takes jobs`}
        disabled={saving}
        onClick={toggle}
      >
        <span class="switch-track" aria-hidden="true">
          <span class="switch-thumb" />
        </span>
        {instance.enabled ? "Enabled" : "Disabled"}
      </button>
      {error && (
        <span class="error-text small" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** The live instances of one machine, each with its state and an enable/disable switch. */
export function InstanceList(props: { instances: FleetInstance[]; onSaved: (i: FleetInstance) => void }) {
  return (
    <ul class="plain-list instance-list">
      {props.instances.map((i) => {
        const state = stateOf(i);
        return (
          <li key={i.id} class="instance-row" data-testid="instance" data-enabled={String(i.enabled)}>
            <span class={`dot ${i.available ? "dot-ok" : "dot-bad"}`} aria-hidden="true" />
            <span class="mono">{i.instance_id}</span>
            <span class={`pill pill-${state.pill}`} data-testid="instance-state">
              {state.label}
            </span>
            <span class="muted small instance-detail">
              {i.available ? i.comfy_url : (i.reason ?? "unavailable")}
            </span>
            <EnabledSwitch instance={i} onSaved={props.onSaved} />
          </li>
        );
      })}
    </ul>
  );
}
