import { z } from "zod";
import type { RunWarning } from "../../db/schema";
import type { Bindings } from "../../env";
import { AppError } from "../../lib/errors";
import type { ModelCleanupMessage, ModelDeleteMessage } from "../../protocol/v1";
import type { InsertedRun } from "../../stores/runs";
import type { PoolSettings } from "./fleet-state";
import type { NewJob } from "./job-queue";
import type { HeldRow } from "./unrecorded-runs";

/** Dispatchers are per tenant and pool, so one tenant's queue never sees another's runs or agents. */
export const dispatcherName = (userId: string, pool: string) => `${userId}/${pool}`;

/** Who an agent socket belongs to; the Worker vouches for it after checking the machine token. */
export const AgentIdentity = z.object({
  machineId: z.string().min(1),
  userId: z.string().min(1),
  origin: z.url(),
});
export type AgentIdentity = z.infer<typeof AgentIdentity>;

const IDENTITY_HEADERS = {
  machineId: "X-Machine-Id",
  userId: "X-User-Id",
  origin: "X-Public-Origin",
} as const satisfies Record<keyof AgentIdentity, string>;

/** The identity the client put on an agent's upgrade request (read by the Dispatcher). */
export const readAgentIdentity = (request: Request): AgentIdentity =>
  AgentIdentity.parse({
    machineId: request.headers.get(IDENTITY_HEADERS.machineId),
    userId: request.headers.get(IDENTITY_HEADERS.userId),
    origin: request.headers.get(IDENTITY_HEADERS.origin),
  });

export const CancelOutcome = z.enum(["removed", "stopping", "unknown"]);
export type CancelOutcome = z.infer<typeof CancelOutcome>;
const Position = z.number().int().nonnegative().nullable();
const Stats = z.object({
  queued: z.number().int(),
  leased: z.number().int(),
  stopping: z.number().int(),
  agents: z.number().int(),
});

/** The typed client of one Dispatcher: the only code that knows its methods, headers and upgrade. */
export function dispatcherClient(env: Bindings, userId: string, pool: string) {
  const stub = env.DISPATCHER.getByName(dispatcherName(userId, pool));
  return {
    /** Queues a new run and writes its row (see `Dispatcher.enqueue`); resolves once the row exists. */
    enqueue: async (job: NewJob, run: HeldRow, whenNoAgent: RunWarning) => {
      // RPC typing cannot express the row's free-form JSON columns; the row is the one D1 returned.
      const queued = (await stub.enqueue(job, run, whenNoAgent)) as unknown as {
        run: InsertedRun;
        position: unknown;
      };
      return { position: Position.parse(queued.position), run: queued.run };
    },
    position: async (runId: string) => Position.parse(await stub.position(runId)),
    cancel: async (runId: string, reason: "cancelled" | "timeout") =>
      CancelOutcome.parse(await stub.cancel(runId, reason)),
    failUnqueued: async (runIds: string[]) => z.array(z.string()).parse(await stub.failUnqueued(runIds)),
    stats: async () => Stats.parse(await stub.stats()),
    disconnectMachine: (machineId: string) => stub.disconnectMachine(machineId),
    /** Asks these machines' agents to call ComfyUI's `POST /free`; the machines reached. */
    freeMemory: async (targets: { machineId: string; instanceIds?: string[] }[], freeMemory: boolean) =>
      z.array(z.string()).parse(await stub.freeMemory(targets, freeMemory)),
    /** Sends these machines' unfinished model downloads to those connected; the machines reached. */
    sendModelDownloads: async (machineIds: string[]) =>
      z.array(z.string()).parse(await stub.sendModelDownloads(machineIds)),
    /** Asks these machines' agents to delete model files; the machines reached. */
    removeModels: async (machineIds: string[], message: ModelDeleteMessage | ModelCleanupMessage) =>
      z.array(z.string()).parse(await stub.removeModels(machineIds, message)),
    /** What the pool's agents last said, with each instance's enabled flag and current run. */
    fleetSnapshot: () => stub.fleetSnapshot(),
    setInstanceEnabled: (machineId: string, instanceId: string | null, enabled: boolean) =>
      stub.setInstanceEnabled(machineId, instanceId, enabled),
    configure: (settings: PoolSettings) => stub.configure(settings),

    /** Hands an agent's WebSocket upgrade to the Dispatcher, with the identity the Worker checked. */
    async connectAgent(upgrade: Request, identity: AgentIdentity): Promise<Response> {
      const headers = new Headers(upgrade.headers);
      for (const [field, name] of Object.entries(IDENTITY_HEADERS))
        headers.set(name, identity[field as keyof AgentIdentity]);
      const res = await stub.fetch(new Request(upgrade.url, { headers }));
      if (res.status !== 101 || !res.webSocket)
        throw new AppError(
          "service_unavailable",
          `The dispatcher refused the agent link (HTTP ${res.status})`,
        );
      return new Response(null, { status: 101, webSocket: res.webSocket });
    },
  };
}

/** A Dispatcher that only answers a liveness ping (health checks). */
export const pingDispatcher = async (env: Bindings) =>
  z.object({ ok: z.literal(true), at: z.number() }).parse(await env.DISPATCHER.getByName("health").ping());
