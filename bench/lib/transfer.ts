import { download, mbPerSecond, upload } from "./bytes";
import { loopbackCopy, startLoopback } from "./floor";
import { bearer, call } from "./http";
import type { Account } from "./product";
import { median } from "./stats";
import type { WranglerServer } from "./wrangler";

type PresignedUpload = {
  upload_url: string;
  upload_headers: Record<string, string>;
  file_id: string;
  download_url: string;
  confirm_url: string;
};

/**
 * Row 6, the product's way: `POST /api/file/upload` signs a PUT straight to R2 (wrangler dev's local
 * S3 endpoint), the bytes go there the way the agent sends outputs, and come back through the
 * file's signed download URL (the Worker streaming from R2). Only the PUT and the GET are timed.
 */
async function r2RoundTrip(controlPlane: WranglerServer, account: Account, body: Buffer, name: string) {
  const created = await call<PresignedUpload>("POST", `${controlPlane.url}/api/file/upload`, {
    body: { type: "application/octet-stream", file_size: body.length, filename: name },
    headers: bearer(account.apiKey),
  });
  const up = await upload(created.upload_url, body, created.upload_headers);
  if (up.status !== 200) throw new Error(`PUT to R2 → ${up.status}: ${up.response}`);
  await call("POST", created.confirm_url, { headers: bearer(account.apiKey) });
  const down = await download(created.download_url, body);
  if (down.status !== 200 || !down.intact) {
    throw new Error(`GET from R2 → ${down.status}, ${down.bytes} bytes, intact ${down.intact}`);
  }
  return { upMbps: mbPerSecond(body.length, up.ms), downMbps: mbPerSecond(body.length, down.ms) };
}

/** A bare Worker streaming the body into its R2 binding and back: what local R2 itself costs. */
async function bareWorkerR2(floorWorker: WranglerServer, body: Buffer, name: string) {
  const url = `${floorWorker.url}/blob/${name}`;
  const up = await upload(url, body, { "Content-Type": "application/octet-stream" });
  if (up.status !== 200) throw new Error(`floor Worker PUT → ${up.status}: ${up.response}`);
  const down = await download(url, body);
  if (down.status !== 200 || !down.intact)
    throw new Error(`floor Worker GET → ${down.status}, intact ${down.intact}`);
  return { upMbps: mbPerSecond(body.length, up.ms), downMbps: mbPerSecond(body.length, down.ms) };
}

/**
 * Alternates floor and product round trips `reps` times; the medians of each direction. A bare
 * Worker's R2 round trip is measured alongside, to tell local R2's cost from the product's, and
 * `agentUpload` (a run whose output the GPU agent uploads; MB/s) where it is given.
 */
export async function bytesRoundTrip(
  controlPlane: WranglerServer,
  floorWorker: WranglerServer,
  account: Account,
  workDir: string,
  body: Buffer,
  reps: number,
  agentUpload?: (rep: number) => Promise<number>,
) {
  const loopback = await startLoopback(workDir);
  const floor = { up: [] as number[], down: [] as number[] };
  const product = { up: [] as number[], down: [] as number[] };
  const bareR2 = { up: [] as number[], down: [] as number[] };
  const agentUp: number[] = [];
  const add = (to: { up: number[]; down: number[] }, r: { upMbps: number; downMbps: number }) => {
    to.up.push(r.upMbps);
    to.down.push(r.downMbps);
  };
  try {
    for (let i = 0; i < reps; i++) {
      add(floor, await loopbackCopy(loopback.url, body, `payload-${i}`));
      add(product, await r2RoundTrip(controlPlane, account, body, `payload-${i}.bin`));
      add(bareR2, await bareWorkerR2(floorWorker, body, `payload-${i}`));
      if (agentUpload) agentUp.push(await agentUpload(i));
    }
  } finally {
    await loopback.stop();
  }
  return {
    upMbps: median(product.up),
    downMbps: median(product.down),
    floorUpMbps: median(floor.up),
    floorDownMbps: median(floor.down),
    bareR2UpMbps: median(bareR2.up),
    bareR2DownMbps: median(bareR2.down),
    agentUpMbps: agentUp.length ? median(agentUp) : null,
  };
}
