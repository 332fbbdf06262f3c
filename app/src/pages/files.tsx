import { useState } from "preact/hooks";
import {
  ActionTable,
  DangerButton,
  EmptyState,
  ErrorNotice,
  FilterSelect,
  Loading,
  PageHeader,
  ProgressBar,
} from "../components/ui";
import { api, uploadFile } from "../lib/api";
import { bytes, relativeTime } from "../lib/format";
import { useApi } from "../lib/hooks";
import type { FileRow } from "../lib/types";

const PURPOSES = ["", "upload", "output", "asset"];

function Uploader({ onDone }: { onDone: () => void }) {
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const upload = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    setProgress(0);
    try {
      await uploadFile(file, setProgress);
      onDone();
    } catch (err) {
      setError(err as Error);
    } finally {
      setProgress(null);
    }
  };
  return (
    <div class="uploader">
      <label class="btn btn-primary">
        Upload file
        <input
          type="file"
          class="sr-only"
          onChange={(e) => upload((e.currentTarget as HTMLInputElement).files?.[0])}
        />
      </label>
      {progress !== null && <ProgressBar value={progress * 100} label="Upload progress" />}
      {error && <span class="error-text small">{error.message}</span>}
    </div>
  );
}

export function Files() {
  const [purpose, setPurpose] = useState("");
  const files = useApi<{ files: FileRow[]; total: number }>(
    `/files?limit=100${purpose ? `&purpose=${purpose}` : ""}`,
  );
  const remove = async (file: FileRow) => {
    if (!confirm(`Delete ${file.filename}?`)) return;
    await api(`/files/${file.id}`, { method: "DELETE" }).catch((err: Error) => alert(err.message));
    files.reload();
  };
  return (
    <>
      <PageHeader
        title="Files"
        subtitle="Uploads, run outputs and assets in your storage."
        actions={<Uploader onDone={files.reload} />}
      />
      <div class="filters">
        <FilterSelect
          label="Kind"
          name="kind"
          value={purpose}
          options={PURPOSES.map((p): [string, string] => [p, p || "All files"])}
          onChange={setPurpose}
        />
      </div>
      {files.error && <ErrorNotice error={files.error} retry={files.reload} />}
      {!files.data && !files.error && <Loading />}
      {files.data?.files.length === 0 && (
        <EmptyState title="No files">Upload one, or run a deployment to create outputs.</EmptyState>
      )}
      {files.data && files.data.files.length > 0 && (
        <ActionTable columns={["Name", "Kind", "Type", "Size", "Created"]}>
          {files.data.files.map((f) => (
            <tr key={f.id}>
              <td>
                {f.filename}
                {f.run_id && (
                  <a class="small muted" href={`/app/runs/${f.run_id}`}>
                    {" "}
                    · run
                  </a>
                )}
              </td>
              <td>
                <span class="pill pill-muted">{f.purpose}</span>
              </td>
              <td class="mono small">{f.content_type}</td>
              <td>{bytes(f.size)}</td>
              <td>{relativeTime(f.created_at)}</td>
              <td class="cell-actions">
                <a class="btn btn-ghost btn-sm" href={f.download_url} download={f.filename}>
                  Download
                </a>
                <DangerButton onClick={() => remove(f)}>Delete</DangerButton>
              </td>
            </tr>
          ))}
        </ActionTable>
      )}
    </>
  );
}
