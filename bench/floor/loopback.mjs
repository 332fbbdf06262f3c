// The floor for moving bytes: a plain Node HTTP server on 127.0.0.1 that stores a PUT body in a file
// and streams it back on GET. Started by the bench as its own process; prints its port on stdout.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";

const dir = mkdtempSync(path.join(os.tmpdir(), "comfy-edge-bench-loopback-"));
const fileOf = (url) => path.join(dir, encodeURIComponent(url.replace(/^\/blob\//, "")) || "blob");

const server = http.createServer(async (req, res) => {
  try {
    const file = fileOf(req.url ?? "/");
    if (req.method === "PUT") {
      await pipeline(req, createWriteStream(file));
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
    } else if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200).end("ok");
    } else if (req.method === "GET") {
      res.writeHead(200, {
        "Content-Length": statSync(file).size,
        "Content-Type": "application/octet-stream",
      });
      await pipeline(createReadStream(file), res);
    } else {
      res.writeHead(405).end();
    }
  } catch (err) {
    if (!res.headersSent) res.writeHead(500).end(String(err));
    else res.destroy();
  }
});

const stop = () => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
server.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
