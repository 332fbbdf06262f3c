import { useEffect, useState } from "preact/hooks";
import { api } from "./api";
import { bearer, getSession } from "./session";
import type { Progress, RunSnapshot } from "./types";
import { TERMINAL } from "./types";

export type LogLine = { seq: number; at: string; level: string; message: string; node_id?: string };

export type RunLive = {
  snapshot: RunSnapshot | null;
  progress: Progress | null;
  logs: LogLine[];
  /** An object URL of the latest preview image, or null before the first one. */
  preview: string | null;
  connected: boolean;
};

type Frame =
  | { type: "snapshot"; seq: number; data: RunSnapshot | null }
  | { type: "status"; seq: number; at: string; data: RunSnapshot }
  | { type: "progress"; seq: number; at: string; data: Progress }
  | { type: "log"; seq: number; at: string; data: { level: string; message: string; node_id?: string } }
  | { type: "warning"; seq: number; at: string; data: { code: string; message: string } }
  | { type: "preview"; data: { url: string } };

type Numbered = Exclude<Frame, { type: "snapshot" | "preview" }>;

/**
 * The state after one numbered event. A warning (e.g. no machine online when the run was queued) is shown
 * among the logs; a type this page does not know (a newer server's) leaves the state as it was.
 */
function applyEvent(s: RunLive, frame: Numbered): RunLive {
  switch (frame.type) {
    case "status":
      return { ...s, snapshot: frame.data, progress: frame.data.progress ?? s.progress };
    case "progress":
      return { ...s, progress: frame.data };
    case "log":
      return { ...s, logs: [...s.logs, { seq: frame.seq, at: frame.at, ...frame.data }] };
    case "warning":
      return {
        ...s,
        logs: [...s.logs, { seq: frame.seq, at: frame.at, level: "WARNING", message: frame.data.message }],
      };
    default:
      return s;
  }
}

/** Fetches the latest preview with the session's credential (an <img> cannot send one). */
async function loadPreview(runId: string): Promise<string | null> {
  const session = getSession();
  if (!session) return null;
  const res = await fetch(`/api/run/${runId}/preview`, {
    headers: { Authorization: `Bearer ${bearer(session)}` },
  });
  if (!res.ok) return null;
  return URL.createObjectURL(await res.blob());
}

/**
 * Follows a run over its WebSocket: the whole event log first (`after=0`), then events as they happen.
 * A dropped socket reconnects with the last number seen, so nothing is missed or shown twice.
 */
export function useRunLive(runId: string): RunLive {
  const [state, setState] = useState<RunLive>({
    snapshot: null,
    progress: null,
    logs: [],
    preview: null,
    connected: false,
  });

  useEffect(() => {
    let lastSeq = 0;
    let socket: WebSocket | null = null;
    let closed = false;
    let ended = false;
    let retryMs = 500;
    let previewUrl: string | null = null;
    let previewInFlight = false;

    const showPreview = async () => {
      if (previewInFlight) return;
      previewInFlight = true;
      const url = await loadPreview(runId).finally(() => {
        previewInFlight = false;
      });
      if (!url || closed) return;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = url;
      setState((s) => ({ ...s, preview: url }));
    };

    const onFrame = (frame: Frame) => {
      if (frame.type === "preview") return void showPreview();
      if (frame.type !== "snapshot" && frame.seq <= lastSeq) return;
      if (frame.type !== "snapshot") lastSeq = frame.seq;
      if ((frame.type === "snapshot" || frame.type === "status") && frame.data)
        ended = TERMINAL.has(frame.data.status);
      setState((s) => {
        if (frame.type !== "snapshot") return applyEvent(s, frame);
        return frame.data ? { ...s, snapshot: frame.data, progress: frame.data.progress ?? s.progress } : s;
      });
    };

    const connect = () => {
      const session = getSession();
      if (!session || closed) return;
      const proto = location.protocol === "https:" ? "wss" : "ws";
      const token = encodeURIComponent(bearer(session));
      socket = new WebSocket(
        `${proto}://${location.host}/api/run/${runId}/ws?after=${lastSeq}&token=${token}`,
      );
      socket.onopen = () => {
        retryMs = 500;
        setState((s) => ({ ...s, connected: true }));
      };
      socket.onmessage = (e) => onFrame(JSON.parse(String(e.data)) as Frame);
      socket.onclose = () => {
        setState((s) => ({ ...s, connected: false }));
        if (closed || ended) return;
        // A closed socket on a live run: check the run still exists (a 401 signs out), then resume.
        api(`/run/${runId}`).then(
          () => setTimeout(connect, retryMs),
          () => undefined,
        );
        retryMs = Math.min(retryMs * 2, 10_000);
      };
    };

    showPreview();
    connect();
    return () => {
      closed = true;
      socket?.close();
      if (previewUrl) URL.revokeObjectURL(previewUrl);
    };
  }, [runId]);

  return state;
}
