import type { ComfySimulator } from "../../../sim/simulator";

/** POST /upload/image as a browser form would send it. */
export async function uploadImage(
  sim: ComfySimulator,
  name: string,
  bytes: Uint8Array,
  fields: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
  const form = new FormData();
  form.set("image", new Blob([bytes], { type: "image/png" }), name);
  for (const [key, value] of Object.entries(fields)) form.set(key, value);
  const response = await fetch(`${sim.url}/upload/image`, { method: "POST", body: form });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}
