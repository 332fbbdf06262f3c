import { randomUUID } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { finished, type Readable } from "node:stream";

/**
 * HTTP calls over Node's own `http` module. The agent does not use `fetch`: loading it (undici) costs
 * the process about 10 MB of memory, for calls that need nothing beyond a request and its reply.
 */
export interface HttpReply {
  status: number;
  ok: boolean;
  headers: IncomingHttpHeaders;
  /** The body, streaming; read it, or call `discard()`. */
  body: IncomingMessage;
  text(): Promise<string>;
  discard(): void;
}

export interface HttpRequestInit {
  method?: string;
  headers?: Record<string, string>;
  /** Bytes, or a stream sent as it is read (never gathered in memory). */
  body?: string | Uint8Array | Readable;
  signal?: AbortSignal;
}

/** Sends one request; resolves with the reply's status and headers once they arrive. */
export function sendRequest(url: string, init: HttpRequestInit = {}): Promise<HttpReply> {
  const target = new URL(url);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<HttpReply>((resolve, reject) => {
    const request = send(target, {
      method: init.method ?? "GET",
      headers: init.headers,
      signal: init.signal,
    });
    request.on("error", reject);
    request.once("response", (response) => resolve(reply(response)));
    const body = init.body;
    if (body === undefined) request.end();
    else if (typeof body === "string" || body instanceof Uint8Array) request.end(body);
    else {
      // By hand, not `pipeline`, which makes an AbortController per call and, once done, aborts it (an
      // error with its stack trace). A body that fails or closes before its end (already, too: a kept
      // source that broke while it waited) destroys the request, which rejects through its "error"
      // above; a request that closes first (failed, refused early) destroys the body.
      finished(body, { writable: false }, (error) => {
        if (error) request.destroy(error);
      });
      request.once("close", () => {
        if (!body.readableEnded) body.destroy();
      });
      body.pipe(request);
    }
  });
}

function reply(response: IncomingMessage): HttpReply {
  const status = response.statusCode ?? 0;
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: response.headers,
    body: response,
    text: () => readText(response),
    discard() {
      response.resume();
    },
  };
}

/** The whole body as text, read with plain listeners (a stream's async iterator costs a promise per chunk). */
function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.once("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.once("error", reject);
    // A reply cut off mid-body ends with "aborted" and "close", not always with "error".
    response.once("close", () => {
      if (!response.complete) reject(new Error("the reply was cut off"));
    });
  });
}

/** A multipart/form-data body of text fields and one file. */
export function multipartBody(
  fields: Record<string, string>,
  file: { field: string; filename: string; contentType: string; bytes: Uint8Array },
): { body: Buffer; contentType: string } {
  const boundary = `----comfy-edge-${randomUUID()}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
    );
  }
  const filename = file.filename.replace(/["\r\n]/g, "_");
  parts.push(
    Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="${file.field}"; filename="${filename}"\r\ncontent-type: ${file.contentType}\r\n\r\n`,
    ),
    Buffer.from(file.bytes),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  );
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
