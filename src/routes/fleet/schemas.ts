import { z } from "@hono/zod-openapi";
import { EXECUTION_STATUSES } from "../../services/run-views";

/** Seed 003's success envelope: `{code: 200, data}`. */
export const envelope = <T extends z.ZodType>(data: T, name: string) =>
  z.object({ code: z.literal(200), data }).openapi(name);

export const InstanceSchema = z
  .object({
    id: z.string().openapi({ example: "6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c:comfy-0" }),
    serverId: z.string().openapi({ description: "The machine (agent) id" }),
    serverName: z.string(),
    ip: z.string().nullable().openapi({ example: "127.0.0.1" }),
    port: z.number().int().nullable().openapi({ example: 8188 }),
    enabled: z.boolean(),
    alive: z.boolean(),
    busy: z.boolean(),
    lastHeartbeat: z.string().nullable(),
    machine_id: z.string(),
    instance_id: z.string().openapi({ example: "comfy-0" }),
    pool: z.string(),
    comfy_url: z.string().nullable(),
    connected: z.boolean(),
    draining: z.boolean(),
    available: z.boolean(),
    reason: z.string().nullable(),
    current_task_id: z.string().nullable(),
  })
  .openapi("Instance");

export const TaskSchema = z
  .object({
    id: z.string(),
    instanceId: z.string().nullable(),
    status: z.enum(EXECUTION_STATUSES),
    progress: z.number().openapi({ example: 50 }),
    createdAt: z.string(),
    updatedAt: z.string(),
    raw_status: z.string(),
    machine_id: z.string().nullable(),
    pool: z.string(),
    error: z.string().nullable(),
    outputs: z.record(z.string(), z.array(z.unknown())),
  })
  .openapi("Task");

export const OverviewSchema = z
  .object({
    totalInstances: z.number().int(),
    aliveInstances: z.number().int(),
    busyInstances: z.number().int(),
    pendingTasks: z.number().int(),
    runningTasks: z.number().int(),
    completedTasks: z.number().int(),
    failedTasks: z.number().int(),
    cancelledTasks: z.number().int(),
    enabledInstances: z.number().int(),
    onlineMachines: z.number().int(),
    totalMachines: z.number().int(),
  })
  .openapi("MonitorOverview");
