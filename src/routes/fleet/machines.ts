import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { requireUser } from "../../middleware/auth";
import { KiB, limitBody } from "../../middleware/body-limit";
import {
  createMachine,
  getMachine,
  listUserMachines,
  publicMachine,
  removeMachine,
} from "../../services/machines";

const MachineSchema = z
  .object({
    id: z.string().openapi({ example: "5d0c1f7e-2a3b-4c5d-8e9f-0a1b2c3d4e5f" }),
    name: z.string().openapi({ example: "rtx-4090-box" }),
    pool: z.string().openapi({ example: "default" }),
    type: z.literal("custom"),
    machine_type: z.string().openapi({ example: "custom" }),
    status: z.enum(["offline", "online", "draining"]).openapi({ example: "online" }),
    gpu: z.string().nullable(),
    gpus: z.array(z.unknown()).openapi({ example: [{ index: 0, name: "NVIDIA GeForce RTX 4090" }] }),
    instances: z.array(z.unknown()),
    agent: z.record(z.string(), z.unknown()).nullable(),
    last_seen_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Machine");

const CreatedMachineSchema = MachineSchema.extend({
  token: z.string().openapi({ example: "ce_mach_…", description: "The agent's token. Shown once." }),
}).openapi("CreatedMachine");

const CreateMachineSchema = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ example: "rtx-4090-box" }),
    pool: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "lowercase letters, digits, '-' or '_'")
      .optional()
      .openapi({ example: "default" }),
  })
  .openapi("CreateMachineRequest");

const IdParam = z.object({
  machine_id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "machine_id", in: "path" } }),
});
const tags = ["Machines"];
const security = [{ bearerAuth: [] }];

export const machineRoutes = createRouter();
machineRoutes.use("/machine/*", requireUser, limitBody(4 * KiB));
machineRoutes.use("/machines", requireUser);

machineRoutes.openapi(
  createRoute({
    method: "post",
    path: "/machine/custom",
    tags,
    security,
    summary: "Register a GPU host; returns the token its agent connects with",
    request: { body: jsonBody(CreateMachineSchema) },
    responses: {
      201: jsonContent(CreatedMachineSchema, "The machine, with its token shown this once"),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => c.json(await createMachine(c.var.db, c.var.principal.userId, c.req.valid("json")), 201),
);

machineRoutes.openapi(
  createRoute({
    method: "get",
    path: "/machines",
    tags,
    security,
    summary: "List your machines",
    responses: { 200: jsonContent(z.array(MachineSchema), "Your machines"), ...errorResponses(401, 403) },
  }),
  async (c) => c.json(await listUserMachines(c.var.db, c.var.principal.userId), 200),
);

machineRoutes.openapi(
  createRoute({
    method: "get",
    path: "/machine/{machine_id}",
    tags,
    security,
    summary: "A machine, with its agent, GPUs and ComfyUI instances as last reported",
    request: { params: IdParam },
    responses: { 200: jsonContent(MachineSchema, "The machine"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const row = await getMachine(c.var.db, c.var.principal.userId, c.req.valid("param").machine_id);
    return c.json(publicMachine(row), 200);
  },
);

machineRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/machine/{machine_id}",
    tags,
    security,
    summary: "Delete a machine: its token stops working and its agent is disconnected",
    request: { params: IdParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), deleted: z.literal(true) }), "Deleted"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const { machine_id } = c.req.valid("param");
    await removeMachine(c.env, c.var.db, c.var.principal.userId, machine_id);
    return c.json({ id: machine_id, deleted: true as const }, 200);
  },
);
