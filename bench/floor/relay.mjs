// Row 5's floor (bench/README.md): a bare relay, the least a GPU agent can do per ComfyUI step, with
// no agent code. It queues one prompt on each ComfyUI, reads every frame ComfyUI sends (progress,
// progress_state, previews), sends each `progress` on as one report frame to the bench's sink and
// reads the sink's ack of each. The bench runs it with the agent's Node and V8 flags.
//
//   node <flags> relay.mjs <sink ws url> <ComfyUI url>...
//
// The sink drives it: the relay says `ready` once its sockets are open, queues on `go` the prompts it
// carries (one per ComfyUI, in order), and says `done` (with how many progress events it relayed for
// that `go`) once every prompt has finished and every ack is in. The next `go` is sent after `done`
// (the bench sends one to warm the process up, then the one it measures).
import { randomUUID } from "node:crypto";
import http from "node:http";
import WebSocket from "ws";

const [sinkUrl, ...comfyUrls] = process.argv.slice(2);

const open = (url) =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });

const postJson = (url, body) =>
  new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(text))));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });

const sink = await open(sinkUrl);
let relayed = 0;
let acked = 0;
let running = 0;
const finishIfDone = () => {
  if (running === 0 && acked === relayed) sink.send(JSON.stringify({ type: "done", relayed }));
};

/** One ComfyUI: its socket relays each prompt's `progress` events until that prompt has finished. */
async function relayFrom(url) {
  const clientId = randomUUID();
  const ws = await open(`${url.replace(/^http/, "ws")}/ws?clientId=${clientId}`);
  ws.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
  const runId = randomUUID();
  ws.on("message", (data, isBinary) => {
    if (isBinary) return;
    const { type, data: event } = JSON.parse(data.toString());
    if (type === "progress") {
      relayed++;
      const { value, max, node } = event;
      sink.send(
        JSON.stringify({
          type: "report",
          event_id: randomUUID(),
          run_id: runId,
          lease_token: "bare-relay",
          at: Date.now(),
          report: {
            kind: "progress",
            progress: {
              percentage: (100 * value) / max,
              nodes_done: 1,
              nodes_total: 3,
              current_node: node,
              step: value,
              total_steps: max,
              eta_seconds: null,
            },
          },
        }),
      );
    } else if (type === "executing" && event.node === null) {
      // This socket's one prompt has finished (ComfyUI sends this after writing its history).
      running--;
      finishIfDone();
    }
  });
  return (prompt) => postJson(`${url}/prompt`, { prompt, client_id: clientId });
}

const starts = await Promise.all(comfyUrls.map((url) => relayFrom(url)));
sink.on("message", (data) => {
  const message = JSON.parse(data.toString());
  if (message.type === "ack") {
    acked++;
    finishIfDone();
  } else if (message.type === "go") {
    // The previous round is over (`done` said so): count this one afresh.
    relayed = 0;
    acked = 0;
    running = starts.length;
    for (const [i, start] of starts.entries()) {
      start(message.prompts[i]).catch((err) => {
        console.error(`queueing a prompt failed: ${err.message}`);
        process.exit(1);
      });
    }
  }
});
sink.send(JSON.stringify({ type: "ready" }));
