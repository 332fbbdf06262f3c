import type { RunRow } from "../../db/schema/runs";
import type { Bindings } from "../../env";
import { AppError } from "../../lib/errors";
import { type RunEventBody, RunSnapshot } from "../../lib/run-events";
import type { Preview } from "./latest-preview";
import type { RunEventOrder } from "./ordered-publish";
import type { SseFormat } from "./sse-hub";

/** The RunRoom's internal URLs: only this client and the object know them. */
export const ROOM_PATHS = { socket: "/ws", events: "/events" } as const;
const ROOM_ORIGIN = "https://run-room";

export function toSnapshot(row: RunRow): RunSnapshot {
  return {
    run_id: row.id,
    status: row.status,
    progress: row.progress ?? null,
    outputs: row.outputs ?? null,
    error: row.error ?? null,
    attempt: row.attempt,
    updated_at: row.updatedAt,
  };
}

/** Where a subscriber resumes: after an event number, or after a `Last-Event-ID` header. */
export type Resume = { after?: number; lastEventId?: string };

function roomUrl(path: string, resume: Resume, format?: SseFormat) {
  const url = new URL(path, ROOM_ORIGIN);
  if (resume.after !== undefined) url.searchParams.set("after", String(resume.after));
  if (format && format !== "native") url.searchParams.set("format", format);
  return url.toString();
}

/**
 * The typed client of one run's RunRoom: the only code that talks to it. With `order`, its publishes
 * go through that object's per-run order (see `RunEventOrder`).
 */
export function runRoomClient(env: Bindings, runId: string, order?: RunEventOrder) {
  const stub = env.RUN_ROOM.getByName(runId);
  const publish = (events: RunEventBody[]): Promise<number> =>
    order ? order.publish(runId, events) : stub.publish(events);
  return {
    /** The last event's number (our own object's answer, typed by its RPC signature). */
    publish,
    /** The run's new status, after `before` (events that belong just ahead of it). */
    publishStatus: (row: RunRow, before: RunEventBody[] = []) =>
      publish([...before, { type: "status", data: toSnapshot(row) }]),
    /** The snapshot once the run ends, or null when `timeoutMs` passes first. */
    waitForEnd: async (timeoutMs: number) => RunSnapshot.nullable().parse(await stub.waitForEnd(timeoutMs)),
    /** Hands the room the run's newest live preview; false when the run has already ended. */
    setPreview: (preview: Preview) => stub.setPreview(runId, preview),
    /** The newest live preview, or null when none arrived. */
    preview: (): Promise<Preview | null> => stub.preview(),

    /**
     * Upgrades to a subscriber WebSocket: a snapshot, then every event after `resume`. The room gets
     * `row`'s snapshot first: for a room with no event yet, and to mend a live status a restart of the
     * room lost.
     */
    async openSocket(row: RunRow, resume: Resume): Promise<Response> {
      await stub.init(toSnapshot(row));
      const res = await stub.fetch(roomUrl(ROOM_PATHS.socket, resume), { headers: { Upgrade: "websocket" } });
      if (res.status !== 101 || !res.webSocket) throw unavailable(res.status);
      return new Response(null, { status: 101, webSocket: res.webSocket });
    },

    /** A Server-Sent-Events stream of the run's events (`row` as for `openSocket`). */
    async openEventStream(row: RunRow, resume: Resume, format: SseFormat = "native"): Promise<Response> {
      await stub.init(toSnapshot(row));
      const headers: Record<string, string> = resume.lastEventId
        ? { "Last-Event-ID": resume.lastEventId }
        : {};
      const res = await stub.fetch(roomUrl(ROOM_PATHS.events, resume, format), { headers });
      if (!res.ok || !res.body) throw unavailable(res.status);
      return new Response(res.body, { status: 200, headers: Object.fromEntries(res.headers) });
    },
  };
}

const unavailable = (status: number) =>
  new AppError("service_unavailable", `The run's event room did not answer (HTTP ${status})`);
