import { useState } from "preact/hooks";
import {
  ActionTable,
  Card,
  CopyButton,
  DangerButton,
  EmptyState,
  ErrorNotice,
  Loading,
  PageHeader,
} from "../components/ui";
import { api } from "../lib/api";
import { relativeTime } from "../lib/format";
import { useApi } from "../lib/hooks";
import type { ApiKey } from "../lib/types";

export function Keys() {
  const keys = useApi<ApiKey[]>("/keys");
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const create = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get("name"));
    setError(null);
    try {
      const key = await api<{ name: string; key: string }>("/keys", { method: "POST", body: { name } });
      setCreated(key);
      form.reset();
      keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };

  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke "${key.name}"? Anything using it stops working at once.`)) return;
    try {
      await api(`/keys/${key.id}`, { method: "DELETE" });
      keys.reload();
    } catch (err) {
      setError(err as Error);
    }
  };

  return (
    <>
      <PageHeader
        title="API keys"
        subtitle="Keys authenticate scripts and SDKs. A key is shown once, when it is created."
      />
      <Card title="Create a key">
        <form class="inline-form" onSubmit={create}>
          <input
            name="name"
            placeholder="Key name, e.g. production"
            required
            maxLength={100}
            aria-label="Key name"
          />
          <button class="btn btn-primary" type="submit">
            Create key
          </button>
        </form>
        {created && (
          <div class="notice notice-ok" role="status" data-testid="new-key">
            <strong>{created.name}</strong> — copy it now, it will not be shown again.
            <div class="key-reveal">
              <code>{created.key}</code>
              <CopyButton text={created.key} />
            </div>
          </div>
        )}
        {error && <ErrorNotice error={error} />}
      </Card>
      {keys.error && <ErrorNotice error={keys.error} retry={keys.reload} />}
      {!keys.data && !keys.error && <Loading />}
      {keys.data?.length === 0 && <EmptyState title="No API keys">Create one above.</EmptyState>}
      {keys.data && keys.data.length > 0 && (
        <ActionTable columns={["Name", "Key", "Created", "Last used"]}>
          {keys.data.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td class="mono">{k.prefix}…</td>
              <td>{relativeTime(k.created_at)}</td>
              <td>{relativeTime(k.last_used_at)}</td>
              <td class="cell-actions">
                <DangerButton onClick={() => revoke(k)}>Revoke</DangerButton>
              </td>
            </tr>
          ))}
        </ActionTable>
      )}
    </>
  );
}
