import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import { findRunById } from "../../src/stores/runs";
import { createEndpoint, removeEndpoint } from "../../src/webhooks/endpoints";
import { enqueueRunWebhooks } from "../../src/webhooks/enqueue";
import { executeRun } from "../helpers/runs";
import { createUser } from "../helpers/users";

// Nothing listens on the discard port: deliveries are recorded, and their attempts fail fast.
const CLOSED_URL = "http://127.0.0.1:9/hook";
/** The staleness bound written in docs/webhooks.md. */
const BOUND_MS = 5_000;

const db = createDb(env.DB);

/** The endpoints that got a delivery for this run, by event. */
async function deliveredTo(runId: string) {
  const { results } = await env.DB.prepare(
    "SELECT endpoint_id, event FROM webhook_deliveries WHERE run_id = ? AND endpoint_id IS NOT NULL",
  )
    .bind(runId)
    .all<{ endpoint_id: string; event: string }>();
  return results;
}

async function insertEndpointElsewhere(userId: string) {
  const id = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO webhook_endpoints (id, user_id, url, events) VALUES (?, ?, ?, ?)")
    .bind(id, userId, CLOSED_URL, JSON.stringify(["*"]))
    .run();
  return id;
}

describe("tenant endpoints per isolate", () => {
  afterEach(() => vi.restoreAllMocks());

  it("uses an endpoint changed here at once, and one changed elsewhere within the bound", async () => {
    const [user, other] = [await createUser("hooks"), await createUser("hooksother")];
    const runId = await executeRun(user);
    const run = await findRunById(db, runId);
    if (!run) throw new Error("run not stored");
    const ctx = { env, db, userId: user.id };

    const here = await createEndpoint(ctx, { url: CLOSED_URL, events: ["*"] });
    await enqueueRunWebhooks(env, db, run);
    expect(await deliveredTo(runId)).toEqual([{ endpoint_id: here.id, event: "run.not-started" }]);

    // Written by another isolate: this one has the tenant's endpoints cached, for the bound at most.
    const elsewhere = await insertEndpointElsewhere(user.id);
    await insertEndpointElsewhere(other.id);
    const now = Date.now();
    vi.spyOn(Date, "now").mockImplementation(() => now + BOUND_MS);
    await enqueueRunWebhooks(env, db, { ...run, status: "queued" });
    const queued = (await deliveredTo(runId)).filter((d) => d.event === "run.queued");
    expect(queued.map((d) => d.endpoint_id).sort()).toEqual([here.id, elsewhere].sort());

    await removeEndpoint(ctx, here.id);
    await enqueueRunWebhooks(env, db, { ...run, status: "running" });
    const running = (await deliveredTo(runId)).filter((d) => d.event === "run.running");
    expect(running).toEqual([{ endpoint_id: elsewhere, event: "run.running" }]);
  });
});
