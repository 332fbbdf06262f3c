import type { Bindings } from "../../env";
import type { FleetEvent, InstanceStatus, TaskCounts } from "./events";

/** One FleetRoom per tenant. */
export const fleetRoom = (env: Bindings, userId: string) => env.FLEET_ROOM.getByName(userId);

/**
 * Publishes an event to the tenant's `/ws` subscribers. Never throws: a live view failing must not
 * fail a run or an agent link.
 */
export async function publishFleetEvent(env: Bindings, userId: string, event: FleetEvent): Promise<void> {
  try {
    await fleetRoom(env, userId).publish(event);
  } catch (err) {
    console.error(`fleet event ${event.type} for ${userId}:`, err);
  }
}

type RunLike = { id: string; status: string; outputs: unknown[] | null; error: unknown };

const TERMINAL_FAILURES = new Set(["failed", "timeout", "cancelled"]);

/** The `/ws` event a run's new status means, if any. */
export function taskEvent(run: RunLike): FleetEvent | null {
  if (run.status === "success") {
    const files = (run.outputs ?? []).flatMap((o) => {
      const { url, file_id } = o as { url?: string; file_id?: string };
      return url ? [url] : file_id ? [file_id] : [];
    });
    return { type: "task_completed", data: { taskId: run.id, result: { files } } };
  }
  if (!TERMINAL_FAILURES.has(run.status)) return null;
  const error = (run.error as { message?: string } | null)?.message ?? null;
  return { type: "task_failed", data: { taskId: run.id, status: run.status, error } };
}

/** Publishes a run's status change to the tenant's `/ws` subscribers when it is one they hear of. */
export async function publishTaskStatus(env: Bindings, userId: string, run: RunLike): Promise<void> {
  const event = taskEvent(run);
  if (event) await publishFleetEvent(env, userId, event);
}

/** Publishes the state of each instance of a machine (it came online, went offline or changed). */
export async function publishInstances(env: Bindings, userId: string, instances: InstanceStatus[]) {
  await Promise.all(
    instances.map((data) => publishFleetEvent(env, userId, { type: "instance_status", data })),
  );
}

/** Opens a subscriber socket: the room learns the instances' states, then accepts the upgrade. */
export async function connectFleetSocket(
  env: Bindings,
  userId: string,
  request: Request,
  instances: InstanceStatus[],
  tasks: TaskCounts,
): Promise<Response> {
  const room = fleetRoom(env, userId);
  await room.syncInstances(instances);
  const headers = new Headers(request.headers);
  headers.set("X-Task-Counts", JSON.stringify(tasks));
  return room.fetch(new Request(request.url, { headers })) as unknown as Response;
}
