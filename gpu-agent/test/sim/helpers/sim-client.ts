import type { ComfySimulator } from "../../../sim/simulator";
import { WsRecorder } from "./ws-recorder";

export interface JsonReply {
  status: number;
  json: Record<string, unknown>;
}

export async function postJson(sim: ComfySimulator, path: string, body?: unknown): Promise<JsonReply> {
  const response = await fetch(`${sim.url}${path}`, {
    method: "POST",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function getJson(sim: ComfySimulator, path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${sim.url}${path}`);
  return (await response.json()) as Record<string, unknown>;
}

/** Queues a traced prompt request under a new client id; returns its prompt_id. */
export async function submitAs(
  sim: ComfySimulator,
  request: Record<string, unknown>,
  clientId: string | undefined,
): Promise<string> {
  const { client_id: _recorded, ...rest } = request;
  const reply = await postJson(
    sim,
    "/prompt",
    clientId === undefined ? rest : { ...rest, client_id: clientId },
  );
  if (reply.status !== 200)
    throw new Error(`POST /prompt answered ${reply.status}: ${JSON.stringify(reply.json)}`);
  return reply.json.prompt_id as string;
}

/** The traces' two sockets: the submitter and an observer with another client id. */
export async function connectPair(sim: ComfySimulator, featureFlags = false) {
  const client = await WsRecorder.connect(sim.url, { featureFlags });
  const observer = await WsRecorder.connect(sim.url, { clientId: `observer-${client.clientId.slice(0, 8)}` });
  // Both greetings (and the feature-flags answer) in, so that nothing later can overtake them.
  await client.waitForCount(featureFlags ? 4 : 2);
  await observer.waitForCount(2);
  return { client, observer };
}

/** A moment for stray frames to arrive, so that a comparison also catches extra messages. */
export function settle(ms = 30): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
