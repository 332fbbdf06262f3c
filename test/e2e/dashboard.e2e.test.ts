import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng } from "../../gpu-agent/sim/image/png";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import { invertDeployment, uploadPng } from "./support/api";
import { launchChromium } from "./support/browser";
import { type E2EUser, sharedWorker } from "./support/worker";

/** LoadImage → a sampler-like node that previews every step → ImageInvert → SaveImage. */
const previewGraph = {
  "1": { class_type: "LoadImage", inputs: { image: "example.png" } },
  "2": { class_type: "CRTestProgressPreview", inputs: { image: ["1", 0], steps: 12, delay: 0 } },
  "3": { class_type: "ImageInvert", inputs: { image: ["2", 0] } },
  "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "dashboard/invert" } },
};

const worker = sharedWorker();
let sim: ComfySimulator;
let agent: RunningAgent;
let browser: Browser;
let owner: E2EUser;
let deploymentId: string;
const contexts: BrowserContext[] = [];
/** Screenshots go to a temporary folder; `UPDATE_DOCS_SCREENSHOT=1` refreshes the README's one in docs/. */
const shots = await mkdtemp(path.join(tmpdir(), "dashboard-shots-"));

async function screenshot(page: Page, name: string, forDocs = false) {
  await page.evaluate("window.scrollTo(0, 0)");
  const folder = forDocs && process.env.UPDATE_DOCS_SCREENSHOT ? "docs" : shots;
  await page.screenshot({ path: path.join(folder, `${name}.png`) });
}

async function call<T>(user: E2EUser, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${worker.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A 256×256 colour gradient, so the preview and the inverted output are easy to tell apart. */
function gradientPng(): Buffer {
  const size = 256;
  const rgb = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) rgb.set([x, y, 255 - ((x + y) >> 1)], (y * size + x) * 3);
  return encodePng({ width: size, height: size, rgb });
}

async function createDeployment(user: E2EUser) {
  const workflow = await call<{ id: string }>(user, "POST", "/api/workflow", {
    name: "dashboard-invert",
    workflow_api: previewGraph,
  });
  const deployment = await call<{ id: string }>(user, "POST", "/api/deployment", {
    workflow_id: workflow.id,
    name: "Invert with preview",
    environment: "production",
    inputs: [
      { input_id: "input_image", node_id: "1", input_name: "image", type: "image", required: true },
      {
        input_id: "steps",
        node_id: "2",
        input_name: "steps",
        type: "integer",
        default: 12,
        min: 1,
        max: 1000,
      },
      {
        input_id: "prefix",
        node_id: "4",
        input_name: "filename_prefix",
        type: "string",
        default: "dashboard/invert",
      },
    ],
  });
  return deployment.id;
}

/**
 * Records when the preview and the first output first appear on the page, in the page's own clock
 * (a script run in the page, so a slow test process cannot blur the order).
 */
const RECORD_APPEARANCES = `
  window.appeared = {};
  new MutationObserver(() => {
    for (const id of ["preview-image", "output-tile"])
      if (!window.appeared[id] && document.querySelector('[data-testid="' + id + '"]'))
        window.appeared[id] = performance.now();
  }).observe(document, { subtree: true, childList: true });
`;

const EXPIRED_SESSION = JSON.stringify({
  kind: "user",
  access: "expired",
  refresh: "ce_rt_gone",
  label: "x",
});

async function signInWithPassword(page: Page, user: E2EUser) {
  await page.goto(`${worker.url}/`);
  await page.getByLabel("Username or email").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Runs", exact: true }).waitFor();
}

async function newPage() {
  const context = await browser.newContext({
    viewport: { width: 1360, height: 1000 },
    acceptDownloads: true,
  });
  contexts.push(context);
  const page = await context.newPage();
  await page.addInitScript({ content: RECORD_APPEARANCES });
  return page;
}

beforeAll(async () => {
  [sim, browser] = await Promise.all([startComfySimulator({ stepMs: 120 }), launchChromium()]);
  owner = await worker.createUser("owner");
  const machine = await call<{ token: string }>(owner, "POST", "/api/machine/custom", { name: "gpu-box-1" });
  agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
  deploymentId = await createDeployment(owner);
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await browser?.close();
  await agent?.stop("SIGKILL");
  await sim?.close();
});

describe("dashboard in Chromium", () => {
  afterAll(() => {
    console.log(`dashboard screenshots: ${shots}`);
  });

  let runId: string;

  it("signs in, runs a deployment on an uploaded image, shows progress, a preview before the output, and downloads it byte for byte", async () => {
    const page = await newPage();
    await signInWithPassword(page, owner);
    expect(new URL(page.url()).pathname).toBe("/app/runs");

    await page.getByRole("link", { name: "Deployments" }).click();
    await page.getByTestId("deployment-card").filter({ hasText: "Invert with preview" }).click();
    const file = path.join(await mkdtemp(path.join(tmpdir(), "upload-")), "gradient.png");
    await writeFile(file, gradientPng());
    await page.locator('input[type="file"]').setInputFiles(file);
    await page.getByTestId("upload-status").getByText("Uploaded").waitFor();
    await screenshot(page, "deployment-form");
    await page.getByRole("button", { name: "Run", exact: true }).click();

    await page.waitForURL(/\/app\/runs\/[^/]+$/);
    runId = page.url().split("/").pop()!;
    await page.getByTestId("preview-image").waitFor();
    await page.locator('[data-status="success"]').first().waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByTestId("progress-pct").textContent()).toBe("100%");
    const outputImage = page.getByTestId("output-tile").locator("img");
    await outputImage.waitFor();
    const naturalWidth = `document.querySelector('[data-testid="output-tile"] img').naturalWidth`;
    await expect.poll(() => page.evaluate(naturalWidth)).toBe(256);
    const appeared = (await page.evaluate("window.appeared")) as Record<string, number>;
    expect(appeared["preview-image"]).toBeLessThan(appeared["output-tile"]!);
    await page.getByTestId("logs").waitFor();

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByTestId("download").click(),
    ]);
    const downloaded = await readFile((await download.path())!);
    type Image = { file_id: string; filename: string; subfolder: string };
    const run = await call<{ outputs: { data: { images?: Image[] } }[] }>(owner, "GET", `/api/run/${runId}`);
    const image = run.outputs.flatMap((g) => g.data.images ?? [])[0]!;
    const auth = { headers: { Authorization: `Bearer ${owner.apiKey}` } };
    const inR2 = Buffer.from(
      await (await fetch(`${worker.url}/api/files/${image.file_id}`, auth)).arrayBuffer(),
    );
    const view = new URLSearchParams({
      filename: image.filename,
      subfolder: image.subfolder,
      type: "output",
    });
    const inComfy = Buffer.from(await (await fetch(`${sim.url}/view?${view}`)).arrayBuffer());
    expect(downloaded.subarray(0, 4).toString("latin1")).toBe("\x89PNG");
    expect(downloaded.equals(inR2)).toBe(true);
    expect(downloaded.equals(inComfy)).toBe(true);

    await screenshot(page, "dashboard-run", true);
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "dashboard-run-dark");
  });

  it("shows the warnings of a run queued while no machine was online, then its logs and machine once one takes it", async () => {
    // No agent of this user is connected when the run is queued, so its events begin with warnings.
    const user = await worker.createUser("early");
    const machine = await call<{ id: string; token: string }>(user, "POST", "/api/machine/custom", {
      name: "late-box",
    });
    const queued = await call<{ run_id: string }>(user, "POST", "/api/run/deployment/queue", {
      deployment_id: await invertDeployment(worker, user),
      inputs: { input_image: await uploadPng(worker, user, sim) },
    });
    const page = await newPage();
    await signInWithPassword(page, user);
    await page.goto(`${worker.url}/app/runs/${queued.run_id}`);
    const logs = page.getByTestId("logs");
    await logs.getByText("is online; the run waits in the queue", { exact: false }).waitFor();

    const late = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
    try {
      await page.locator('[data-status="success"]').first().waitFor({ timeout: 60_000 });
      await logs.getByText("running on comfy-0 (attempt 1)").waitFor();
      await logs.getByText("uploaded 1 output file(s)", { exact: false }).waitFor();
      await expect.poll(() => page.getByTestId("run-machine").textContent()).toBe(machine.id.slice(0, 8));
    } finally {
      await late.stop("SIGKILL");
    }
    const asOwner = await fetch(`${worker.url}/api/run/${queued.run_id}`, {
      headers: { Authorization: `Bearer ${owner.apiKey}` },
    });
    expect(asOwner.status).toBe(404);
  });

  it("cancels a slow run from its page", async () => {
    const queued = await call<{ run_id: string }>(owner, "POST", "/api/run/deployment/queue", {
      deployment_id: deploymentId,
      inputs: { input_image: runInputOf(await call(owner, "GET", `/api/run/${runId}`)), steps: 1000 },
    });
    const page = await newPage();
    await signInWithPassword(page, owner);
    await page.goto(`${worker.url}/app/runs/${queued.run_id}`);
    await page.locator('[data-status="running"]').first().waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.locator('[data-status="cancelled"]').first().waitFor();
    await page.getByRole("button", { name: "Retry" }).waitFor();
    const after = await call<{ status: string }>(owner, "GET", `/api/run/${queued.run_id}`);
    expect(after.status).toBe("cancelled");
  });

  it("shows the live runs table, and another tenant signed in with an API key sees none of it", async () => {
    const page = await newPage();
    await signInWithPassword(page, owner);
    await expect.poll(() => page.getByTestId("runs-table").locator("tbody tr").count()).toBe(2);
    const fresh = await call<{ run_id: string }>(owner, "POST", "/api/run/deployment/queue", {
      deployment_id: deploymentId,
      inputs: { input_image: runInputOf(await call(owner, "GET", `/api/run/${runId}`)), steps: 2 },
    });
    // The table picks up the new run and its finish without a reload.
    await page
      .locator(`tr[data-run-id="${fresh.run_id}"] [data-status="success"]`)
      .waitFor({ timeout: 60_000 });
    await screenshot(page, "runs");
    await page.getByRole("link", { name: "Machines" }).click();
    await page.getByTestId("machine-card").waitFor();
    await screenshot(page, "machines");

    const stranger = await worker.createUser("stranger");
    const other = await newPage();
    await other.goto(`${worker.url}/app/`);
    await other.getByRole("tab", { name: "API key" }).click();
    await other.getByLabel("API key").fill(stranger.apiKey);
    await other.getByRole("button", { name: "Sign in" }).click();
    await other.getByText("No runs yet").waitFor();
    await other.getByRole("link", { name: "Deployments" }).click();
    await other.getByText("No deployments yet").waitFor();
    await other.getByRole("link", { name: "Machines" }).click();
    await other.getByText("No machines yet").waitFor();
    await other.goto(`${worker.url}/app/runs/${runId}`);
    await other.getByRole("alert").getByText("Run not found").waitFor();
    const preview = await fetch(`${worker.url}/api/run/${runId}/preview`, {
      headers: { Authorization: `Bearer ${stranger.apiKey}` },
    });
    expect(preview.status).toBe(404);
  });

  it("shows a failed run's error and the node that failed, with a retry", async () => {
    const queued = await call<{ run_id: string }>(owner, "POST", "/api/run/deployment/queue", {
      deployment_id: deploymentId,
      // ComfyUI's SaveImage refuses to write outside its output folder: a workflow fault, not ours.
      inputs: {
        input_image: runInputOf(await call(owner, "GET", `/api/run/${runId}`)),
        steps: 1,
        prefix: "../../escape",
      },
    });
    const page = await newPage();
    await signInWithPassword(page, owner);
    await page.goto(`${worker.url}/app/runs/${queued.run_id}`);
    await page.locator('[data-status="failed"]').first().waitFor({ timeout: 60_000 });
    const error = page.getByTestId("run-error");
    await error.getByText("Saving image outside the output folder", { exact: false }).waitFor();
    await error.getByText("failed at SaveImage #4").waitFor();
    await page.getByRole("button", { name: "Retry" }).waitFor();
    await screenshot(page, "failed-run");
  });

  it("returns to sign-in, saying why, when the session has expired", async () => {
    const page = await newPage();
    await page.goto(`${worker.url}/app/`);
    await page.evaluate(`localStorage.setItem("comfy-edge.session", ${JSON.stringify(EXPIRED_SESSION)})`);
    await page.goto(`${worker.url}/app/runs`);
    await page.getByText("Your session has expired").waitFor();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
  });

  it("disables an instance from the machines page, so no run goes to it, enables it again; another tenant can do neither", async () => {
    type Instance = { id: string; instance_id: string; enabled: boolean };
    const [instance] = (await call<{ data: Instance[] }>(owner, "GET", "/api/instances")).data;
    const instancePath = `/api/instances/${encodeURIComponent(instance!.id)}`;
    const enabledInApi = async () =>
      (await call<{ data: Instance }>(owner, "GET", instancePath)).data.enabled;
    const page = await newPage();
    await signInWithPassword(page, owner);
    await page.getByRole("link", { name: "Machines" }).click();
    const row = page.getByTestId("instance").filter({ hasText: instance!.instance_id });
    const toggle = row.getByRole("switch", { name: `${instance!.instance_id} takes jobs` });
    await expect.poll(() => toggle.getAttribute("aria-checked")).toBe("true");

    // Keyboard only: focus the switch and press Space.
    await toggle.focus();
    await page.keyboard.press("Space");
    await row.and(page.locator('[data-enabled="false"]')).waitFor();
    await expect.poll(() => row.getByTestId("instance-state").textContent()).toBe("disabled");
    expect(await toggle.getAttribute("aria-checked")).toBe("false");
    expect(await enabledInApi()).toBe(false);
    await screenshot(page, "machines-disabled");

    // Nothing may start on the only instance while it is disabled; enabling it lets the run through.
    const waiting = await call<{ run_id: string }>(owner, "POST", "/api/run/deployment/queue", {
      deployment_id: deploymentId,
      inputs: { input_image: runInputOf(await call(owner, "GET", `/api/run/${runId}`)), steps: 2 },
    });
    type Waiting = { status: string; started_at: string | null };
    const before = await call<Waiting>(owner, "GET", `/api/run/${waiting.run_id}`);
    expect(before).toMatchObject({ status: "not-started", started_at: null });

    const stranger = await worker.createUser("stranger");
    const asStranger = (method: string, body?: unknown) =>
      fetch(`${worker.url}${instancePath}`, {
        method,
        headers: { Authorization: `Bearer ${stranger.apiKey}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await asStranger("PUT", { enabled: true })).status).toBe(404);
    expect((await asStranger("GET")).status).toBe(404);
    expect(await call<{ data: Instance[] }>(stranger, "GET", "/api/instances")).toEqual({
      code: 200,
      data: [],
    });
    expect(await enabledInApi()).toBe(false);

    const enabledAt = Date.now();
    await toggle.click();
    await row.and(page.locator('[data-enabled="true"]')).waitFor();
    expect(await enabledInApi()).toBe(true);
    const ran = await waitForRun(waiting.run_id, ["success", "failed"]);
    expect(ran.status).toBe("success");
    expect(Date.parse(ran.started_at!)).toBeGreaterThanOrEqual(enabledAt);
  });
});

async function waitForRun(id: string, statuses: string[]) {
  type View = { status: string; started_at: string | null };
  await expect
    .poll(async () => (await call<View>(owner, "GET", `/api/run/${id}`)).status, { timeout: 60_000 })
    .toSatisfy((status: string) => statuses.includes(status));
  return call<View>(owner, "GET", `/api/run/${id}`);
}

function runInputOf(run: unknown): string {
  return (run as { workflow_inputs: { input_image: string } }).workflow_inputs.input_image;
}
