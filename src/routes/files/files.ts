import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../env";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { signedDownloadUrl } from "../../lib/signed-urls";
import { parseOrThrow } from "../../lib/validation";
import { requireUser, userContext } from "../../middleware/auth";
import { KiB, limitBody } from "../../middleware/body-limit";
import { fileContentResponse } from "../../services/file-content";
import {
  confirmUpload,
  deleteFile,
  fileView,
  getOwnedFile,
  getReadyFile,
  listFiles,
  renameFile,
  signedDownloadFile,
} from "../../services/files";
import { DeletedSchema, serveById } from "./by-id";
import {
  binaryResponses,
  ContentQuerySchema,
  DownloadQuerySchema,
  DownloadUrlRequestSchema,
  DownloadUrlSchema,
  FileListQuerySchema,
  FileListSchema,
  FileSchema,
  IdParam,
  RenameSchema,
} from "./schemas";

const tags = ["Files"];
const security = [{ bearerAuth: [] }];
const json = [requireUser, limitBody(16 * KiB)];
const user = [requireUser];

export const isMultipart = (c: Context<AppEnv>) =>
  /^multipart\/form-data/i.test(c.req.header("Content-Type") ?? "");
/** JSON bodies are small; multipart bodies are streamed and counted by the upload itself. */
export const jsonUnlessMultipart = createMiddleware<AppEnv>((c, next) =>
  isMultipart(c) ? next() : limitBody(16 * KiB)(c, next),
);

/** The JSON body of a route that also takes multipart (already validated when it is JSON). */
export const jsonOrEmpty = (c: Context<AppEnv>): Promise<unknown> => c.req.json().catch(() => ({}));

export const fileRoutes = createRouter();

serveById(
  fileRoutes,
  {
    method: "post",
    path: "/files/{id}/confirm",
    tags,
    summary: "Confirm a presigned upload",
    description:
      "Ready when the object exists with the declared size and type (an image's bytes must be that image); 409 while it has not arrived; 410 once the upload expired.",
    schema: FileSchema,
    answer: "The file, ready",
    errors: [400, 401, 403, 404, 409, 410, 413, 415],
  },
  async (ctx, id) => fileView(ctx, await confirmUpload(ctx, id)),
);

fileRoutes.openapi(
  createRoute({
    method: "get",
    path: "/files",
    tags,
    security,
    summary: "List your files (newest first; expired uploads only when asked for)",
    middleware: user,
    request: { query: FileListQuerySchema },
    responses: { 200: jsonContent(FileListSchema, "A page of files"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { files, total } = await listFiles(userContext(c), {
      limit: q.limit,
      offset: q.offset,
      purpose: q.purpose,
      status: q.status,
      runId: q.run_id,
    });
    return c.json({ files, total, limit: q.limit, offset: q.offset }, 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "get",
    path: "/files/{id}",
    tags,
    security,
    summary: "Download a file (streamed; Range requests supported)",
    middleware: user,
    request: { params: IdParam, query: DownloadQuerySchema },
    responses: { ...binaryResponses, ...errorResponses(401, 403, 404, 409, 410) },
  }),
  async (c) => {
    const row = await getReadyFile(userContext(c), c.req.valid("param").id);
    return fileContentResponse(c.env, row, c.req.raw, { download: c.req.valid("query").download === "1" });
  },
);

serveById(
  fileRoutes,
  {
    method: "get",
    path: "/files/{id}/info",
    tags,
    summary: "A file's metadata (seed 004)",
    schema: FileSchema,
    answer: "The file",
  },
  async (ctx, id) => fileView(ctx, await getOwnedFile(ctx, id)),
);

fileRoutes.openapi(
  createRoute({
    method: "get",
    path: "/files/{id}/content",
    tags,
    summary: "Download a file through a signed, expiring URL (no token)",
    description:
      "The URLs in `download_url` and from `POST /api/files/{id}/download-url`. Tampered or expired → 403.",
    request: { params: IdParam, query: ContentQuerySchema },
    responses: { ...binaryResponses, ...errorResponses(400, 403, 404, 409, 410) },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const row = await signedDownloadFile(c.env, c.var.db, id, q.expires, q.sig);
    return fileContentResponse(c.env, row, c.req.raw, { download: q.download === "1" });
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/files/{id}/download-url",
    tags,
    security,
    summary: "Sign a download URL that works without a token until it expires",
    middleware: json,
    request: {
      params: IdParam,
      body: { required: false, content: { "application/json": { schema: DownloadUrlRequestSchema } } },
    },
    responses: {
      200: jsonContent(DownloadUrlSchema, "The URL"),
      ...errorResponses(400, 401, 403, 404, 409, 410),
    },
  }),
  async (c) => {
    const ctx = userContext(c);
    const { expires_in } = parseOrThrow(DownloadUrlRequestSchema, c.req.valid("json"));
    const row = await getReadyFile(ctx, c.req.valid("param").id);
    const url = await signedDownloadUrl(ctx.env, ctx.origin, row.id, expires_in);
    const expiresAt = new Date(Number(new URL(url).searchParams.get("expires")) * 1000).toISOString();
    return c.json({ url, download_url: url, expires_at: expiresAt }, 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/file/{id}/rename",
    tags,
    security,
    summary: "Rename a file (the name is sanitised)",
    middleware: json,
    request: { params: IdParam, body: jsonBody(RenameSchema) },
    responses: {
      200: jsonContent(FileSchema, "The renamed file"),
      ...errorResponses(400, 401, 403, 404, 413),
    },
  }),
  async (c) => {
    const ctx = userContext(c);
    const row = await renameFile(ctx, c.req.valid("param").id, c.req.valid("json").filename);
    return c.json(await fileView(ctx, row), 200);
  },
);

serveById(
  fileRoutes,
  {
    method: "delete",
    path: "/files/{id}",
    tags,
    summary: "Delete a file and its bytes",
    schema: DeletedSchema,
    answer: "Deleted",
  },
  async (ctx, id) => ({ id: (await deleteFile(ctx, id)).id, deleted: true as const }),
);
