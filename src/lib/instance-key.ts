import { notFound } from "./errors";

/** Seed 003's instance id on our model: `<machine id>:<instance id>` (one ComfyUI on one machine). */
export const instanceKey = (machineId: string, instanceId: string) => `${machineId}:${instanceId}`;

export function splitInstanceKey(key: string) {
  const at = key.indexOf(":");
  if (at <= 0 || at === key.length - 1) throw notFound("Instance");
  return { machineId: key.slice(0, at), instanceId: key.slice(at + 1) };
}
