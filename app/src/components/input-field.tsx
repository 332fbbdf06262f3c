import { useState } from "preact/hooks";
import { uploadFile } from "../lib/api";
import { bytes } from "../lib/format";
import type { DeploymentInput } from "../lib/types";
import { ProgressBar } from "./ui";

export type FieldValue = { value: unknown; pending?: boolean };

/** Image, video and audio inputs upload through the presigned flow; what the run gets is the file id. */
function FileInput(props: { input: DeploymentInput; onChange: (v: FieldValue) => void }) {
  const [state, setState] = useState<{
    name: string;
    size: number;
    progress: number;
    preview?: string;
    error?: string;
    done?: boolean;
  } | null>(null);
  const accept =
    props.input.type === "image" ? "image/*" : "image/*,video/*,audio/*,application/octet-stream";
  const choose = async (file: File | undefined) => {
    if (!file) return;
    const preview = file.type.startsWith("image/") ? URL.createObjectURL(file) : undefined;
    setState({ name: file.name, size: file.size, progress: 0, preview });
    props.onChange({ value: undefined, pending: true });
    try {
      const id = await uploadFile(file, (progress) => setState((s) => s && { ...s, progress }));
      setState((s) => s && { ...s, progress: 1, done: true });
      props.onChange({ value: id });
    } catch (err) {
      setState((s) => s && { ...s, error: (err as Error).message });
      props.onChange({ value: undefined });
    }
  };
  return (
    <div class="upload">
      <input
        type="file"
        id={`input-${props.input.input_id}`}
        name={props.input.input_id}
        accept={accept}
        onChange={(e) => choose((e.currentTarget as HTMLInputElement).files?.[0])}
      />
      {state && (
        <div class="upload-status" data-testid="upload-status">
          {state.preview && <img src={state.preview} alt="" class="upload-thumb" />}
          <div class="upload-info">
            <div class="small">
              {state.name} · {bytes(state.size)}{" "}
              {state.done ? (
                <span class="ok">Uploaded</span>
              ) : state.error ? null : (
                `${Math.round(state.progress * 100)}%`
              )}
            </div>
            <ProgressBar value={state.progress * 100} label={`Uploading ${state.name}`} />
            {state.error && <div class="error-text">{state.error}</div>}
          </div>
        </div>
      )}
    </div>
  );
}

function initial(input: DeploymentInput): string {
  if (input.default === undefined || input.default === null) return "";
  return typeof input.default === "string" ? input.default : JSON.stringify(input.default);
}

/** Converts what a text box holds into the value the input's type expects (undefined: leave it out). */
export function parseValue(input: DeploymentInput, raw: string): unknown {
  if (raw === "") return undefined;
  if (input.type === "integer") return Number.parseInt(raw, 10);
  if (input.type === "number") return Number(raw);
  if (input.type === "json") return JSON.parse(raw);
  return raw;
}

const isSeed = (input: DeploymentInput) => input.type === "integer" && /seed/i.test(input.input_id);

/** One field of the run form, generated from the deployment's input spec. */
export function InputField(props: { input: DeploymentInput; onChange: (v: FieldValue) => void }) {
  const { input, onChange } = props;
  const [text, setText] = useState(() => initial(input));
  const id = `input-${input.input_id}`;
  const set = (raw: string) => {
    setText(raw);
    try {
      onChange({ value: parseValue(input, raw) });
    } catch {
      onChange({ value: raw });
    }
  };
  let control: preact.JSX.Element;
  if (input.type === "image" || input.type === "file")
    control = <FileInput input={input} onChange={onChange} />;
  else if (input.type === "boolean")
    control = (
      <input
        id={id}
        type="checkbox"
        checked={input.default === true}
        onChange={(e) => onChange({ value: (e.currentTarget as HTMLInputElement).checked })}
      />
    );
  else if (input.type === "enum")
    control = (
      <select id={id} value={text} onChange={(e) => set((e.currentTarget as HTMLSelectElement).value)}>
        {!input.required && <option value="">Default</option>}
        {(input.enum_values ?? []).map((v) => (
          <option key={v}>{v}</option>
        ))}
      </select>
    );
  else if (input.type === "integer" || input.type === "number")
    control = (
      <div class="input-row">
        <input
          id={id}
          type="number"
          step={input.type === "integer" ? 1 : "any"}
          min={input.min}
          max={input.max}
          value={text}
          onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
        />
        {isSeed(input) && (
          <button
            type="button"
            class="btn btn-ghost btn-sm"
            onClick={() => set(String(Math.floor(Math.random() * 2 ** 32)))}
          >
            Randomize
          </button>
        )}
      </div>
    );
  else
    control = (
      <textarea
        id={id}
        rows={input.type === "json" ? 4 : 2}
        value={text}
        onInput={(e) => set((e.currentTarget as HTMLTextAreaElement).value)}
      />
    );
  return (
    <div class="field">
      <label for={id}>
        {input.input_id}
        {input.required && <span class="req"> *</span>}
        <span class="type-tag">{input.type}</span>
      </label>
      {control}
      {input.description && <span class="hint">{input.description}</span>}
    </div>
  );
}
