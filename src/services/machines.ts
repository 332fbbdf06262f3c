import type { Db } from "../db/client";
import { dispatcherClient } from "../durable/dispatcher/client";
import type { Bindings } from "../env";
import { randomToken, sha256Hex } from "../lib/crypto";
import { AppError, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import {
  deleteMachine,
  findMachine,
  findMachineByTokenHash,
  insertMachine,
  listMachines,
  type MachineRow,
} from "../stores/machines";
import { MACHINE_TOKEN_PREFIX } from "./tokens";

export function publicMachine(row: MachineRow) {
  const info = (row.info ?? {}) as {
    gpus?: unknown[];
    instances?: unknown[];
    agent?: Record<string, unknown>;
  };
  return {
    id: row.id,
    name: row.name,
    pool: row.pool,
    type: "custom" as const,
    status: row.status,
    machine_type: "custom",
    gpu: null,
    gpus: info.gpus ?? [],
    instances: info.instances ?? [],
    agent: info.agent ?? null,
    last_seen_at: row.lastSeenAt,
    created_at: row.createdAt,
    updated_at: row.lastSeenAt ?? row.createdAt,
  };
}

/** The token is returned once, here; only its SHA-256 is stored. */
export async function createMachine(db: Db, userId: string, input: { name: string; pool?: string }) {
  const token = randomToken(MACHINE_TOKEN_PREFIX);
  const row = await insertMachine(db, {
    id: newId(),
    userId,
    name: input.name,
    pool: input.pool ?? "default",
    tokenHash: await sha256Hex(token),
  });
  return { ...publicMachine(row), token };
}

export async function getMachine(db: Db, userId: string, id: string) {
  const row = await findMachine(db, userId, id);
  if (!row) throw notFound("Machine");
  return row;
}

export const listUserMachines = async (db: Db, userId: string) =>
  (await listMachines(db, userId)).map(publicMachine);

/** Revokes the token and closes the agent's socket; its runs go back in line for other machines. */
export async function removeMachine(env: Bindings, db: Db, userId: string, id: string) {
  const row = await deleteMachine(db, userId, id);
  if (!row) throw notFound("Machine");
  await dispatcherClient(env, userId, row.pool).disconnectMachine(row.id);
}

/** Resolves a machine token for the agent link; user credentials are refused here. */
export async function authenticateMachine(db: Db, token: string): Promise<MachineRow> {
  if (!token.startsWith(MACHINE_TOKEN_PREFIX)) {
    throw new AppError(
      "forbidden",
      "The agent link takes a machine token (ce_mach_…), not a user credential",
    );
  }
  const row = await findMachineByTokenHash(db, await sha256Hex(token));
  if (!row) throw new AppError("unauthorized", "Invalid or revoked machine token");
  return row;
}

/**
 * Joins an agent's WebSocket to its pool's Dispatcher: the machine token is checked here, and the
 * Dispatcher learns the machine, its owner and the public origin its URLs must point at.
 */
export async function connectAgent(env: Bindings, db: Db, token: string, upgrade: Request) {
  const machine = await authenticateMachine(db, token);
  if (upgrade.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new AppError("upgrade_required", "This endpoint takes a WebSocket upgrade");
  }
  return dispatcherClient(env, machine.userId, machine.pool).connectAgent(upgrade, {
    machineId: machine.id,
    userId: machine.userId,
    origin: new URL(upgrade.url).origin,
  });
}
