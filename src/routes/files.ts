import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { extensionFor } from "../lib/file-types";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { parseOrThrow } from "../lib/validation";
import { requireUser } from "../middleware/auth";
import { KiB, limitBody } from "../middleware/body-limit";
import { fileContentResponse } from "../services/file-content";
import { storeFormUpload } from "../services/file-streams";
import {
  assertReadable,
  confirmUpload,
  contentTypeOrThrow,
  createPresignedUpload,
  deleteFile,
  type FileContext,
  type FileRow,
  fileView,
  getOwnedFile,
  getReadyFile,
  listFiles,
  renameFile,
  signedDownloadUrl,
  verifyDownloadSignature,
} from "../services/files";
import {
  abortLargeUpload,
  completeLargeUpload,
  createLargeUpload,
  signLargeUploadParts,
} from "../services/large-uploads";
import { findFileById } from "../stores/files";
import {
  binaryResponses,
  CompleteLargeUploadSchema,
  ContentQuerySchema,
  DownloadQuerySchema,
  DownloadUrlRequestSchema,
  DownloadUrlSchema,
  FileListQuerySchema,
  FileListSchema,
  FileSchema,
  FileUploadRequestSchema,
  FormUploadResponseSchema,
  formUploadBody,
  IdParam,
  LargeUploadRequestSchema,
  LargeUploadSchema,
  PresignedUploadSchema,
  RenameSchema,
  SignPartsSchema,
  UploadUrlQuerySchema,
  UploadUrlRequestSchema,
} from "./file-schemas";

const tags = ["Files"];
const security = [{ bearerAuth: [] }];
const json = [requireUser, limitBody(16 * KiB)];
const user = [requireUser];
const bigJson = [requireUser, limitBody(1024 * KiB)];

const isMultipart = (c: Context<AppEnv>) => /^multipart\/form-data/i.test(c.req.header("Content-Type") ?? "");
/** JSON bodies are small; multipart bodies are streamed and counted by the upload itself. */
const jsonUnlessMultipart = createMiddleware<AppEnv>((c, next) =>
  isMultipart(c) ? next() : limitBody(16 * KiB)(c, next),
);

/** The JSON body of a route that also takes multipart (already validated when it is JSON). */
export const jsonOrEmpty = (c: Context<AppEnv>): Promise<unknown> => c.req.json().catch(() => ({}));

export const fileContext = (c: Context<AppEnv>): FileContext => ({
  env: c.env,
  db: c.var.db,
  userId: c.var.principal.userId,
  origin: new URL(c.req.url).origin,
});

async function presignedView(ctx: FileContext, created: Awaited<ReturnType<typeof createPresignedUpload>>) {
  const file = await fileView(ctx, created.row);
  return {
    upload_url: created.upload.url,
    upload_method: "PUT" as const,
    upload_headers: created.upload.headers,
    file_id: file.id,
    download_url: file.download_url,
    file_url: file.file_url,
    expires_at: created.upload.expiresAt,
    confirm_url: `${ctx.origin}/api/files/${file.id}/confirm`,
    file,
  };
}

async function formUploadView(ctx: FileContext, row: FileRow) {
  return { message: "File uploaded successfully", ...(await fileView(ctx, row)), upload_url: null };
}

const streamedUploadDescription =
  "The file streams into R2 as it arrives (never buffered whole); larger than MAX_STREAMED_UPLOAD_BYTES → 413.";

export const fileRoutes = createRouter();

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/file/upload",
    tags,
    security,
    summary: "Get a presigned upload URL (JSON), or upload a file (multipart/form-data)",
    description: `JSON \`{type, file_size}\` returns a presigned PUT to R2; \`PUT\` the bytes there with \`upload_headers\`, then \`POST confirm_url\` (or just use the file: it is confirmed on first use). multipart/form-data with a \`file\` field is what the \`comfydeploy\` SDK sends. ${streamedUploadDescription}`,
    middleware: [requireUser, jsonUnlessMultipart],
    request: {
      body: {
        required: false,
        content: { "application/json": { schema: FileUploadRequestSchema }, ...formUploadBody },
      },
    },
    responses: {
      200: jsonContent(
        z.union([PresignedUploadSchema, FormUploadResponseSchema]),
        "Presigned URL or stored file",
      ),
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  }),
  async (c) => {
    const ctx = fileContext(c);
    if (isMultipart(c)) {
      return c.json(
        await formUploadView(ctx, await storeFormUpload(ctx, c.req.raw, { purpose: "upload" })),
        200,
      );
    }
    const body = parseOrThrow(FileUploadRequestSchema, await jsonOrEmpty(c));
    const contentType = contentTypeOrThrow(body.type, "type");
    const created = await createPresignedUpload(ctx, {
      filename: body.filename ?? `upload${extensionFor(contentType)}`,
      contentType,
      size: body.file_size,
    });
    return c.json(await presignedView(ctx, created), 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/upload-url",
    tags,
    security,
    summary: "Get a presigned upload URL (seed 001)",
    middleware: json,
    request: { body: jsonBody(UploadUrlRequestSchema) },
    responses: {
      200: jsonContent(PresignedUploadSchema, "PUT the file to upload_url with upload_headers"),
      ...errorResponses(400, 401, 403, 413, 503),
    },
  }),
  async (c) => {
    const ctx = fileContext(c);
    const body = c.req.valid("json");
    const created = await createPresignedUpload(ctx, {
      filename: body.filename,
      contentType: contentTypeOrThrow(body.content_type),
      size: body.file_size ?? null,
    });
    return c.json(await presignedView(ctx, created), 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "get",
    path: "/upload-url",
    tags,
    security,
    summary: "Get a presigned upload URL (ComfyDeploy's older clients)",
    middleware: user,
    request: { query: UploadUrlQuerySchema },
    responses: {
      200: jsonContent(PresignedUploadSchema, "PUT the file to upload_url with upload_headers"),
      ...errorResponses(400, 401, 403, 413, 503),
    },
  }),
  async (c) => {
    const ctx = fileContext(c);
    const q = c.req.valid("query");
    const contentType = contentTypeOrThrow(q.type, "type");
    const created = await createPresignedUpload(ctx, {
      filename: q.filename ?? `upload${extensionFor(contentType)}`,
      contentType,
      size: q.file_size,
    });
    return c.json(await presignedView(ctx, created), 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/files/upload",
    tags,
    security,
    summary: "Upload a file (multipart/form-data, seed 004)",
    description: streamedUploadDescription,
    middleware: user,
    request: { body: { required: true, content: formUploadBody } },
    responses: {
      200: jsonContent(FormUploadResponseSchema, "The stored file"),
      ...errorResponses(400, 401, 403, 413, 415),
    },
  }),
  async (c) => {
    const ctx = fileContext(c);
    return c.json(
      await formUploadView(ctx, await storeFormUpload(ctx, c.req.raw, { purpose: "upload" })),
      200,
    );
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/files/multipart",
    tags,
    security,
    summary: "Start a large upload: R2 multipart with a presigned URL per part",
    description:
      "For files above ~100 MB (up to 5 TiB). PUT each part to its URL with exactly its `size` bytes, keep each response's `ETag`, then complete. Parts may go in parallel.",
    middleware: json,
    request: { body: jsonBody(LargeUploadRequestSchema) },
    responses: {
      201: jsonContent(LargeUploadSchema, "The upload and its part URLs"),
      ...errorResponses(400, 401, 403, 413, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const upload = await createLargeUpload(fileContext(c), {
      filename: body.filename,
      contentType: contentTypeOrThrow(body.content_type),
      size: body.file_size,
      partSize: body.part_size,
    });
    return c.json(upload, 201);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/files/{id}/multipart/urls",
    tags,
    security,
    summary: "Sign part URLs again (all parts, or the ones named)",
    middleware: json,
    request: {
      params: IdParam,
      body: { required: false, content: { "application/json": { schema: SignPartsSchema } } },
    },
    responses: {
      200: jsonContent(LargeUploadSchema, "Fresh part URLs"),
      ...errorResponses(400, 401, 403, 404, 409, 410),
    },
  }),
  async (c) => {
    const body = parseOrThrow(SignPartsSchema, c.req.valid("json"));
    return c.json(
      await signLargeUploadParts(fileContext(c), c.req.valid("param").id, body.part_numbers),
      200,
    );
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/files/{id}/multipart/complete",
    tags,
    security,
    summary: "Complete a large upload from its parts' ETags",
    middleware: bigJson,
    request: { params: IdParam, body: jsonBody(CompleteLargeUploadSchema) },
    responses: {
      200: jsonContent(FileSchema, "The file, ready"),
      ...errorResponses(400, 401, 403, 404, 409, 410, 413, 415),
    },
  }),
  async (c) => {
    const ctx = fileContext(c);
    const row = await completeLargeUpload(ctx, c.req.valid("param").id, c.req.valid("json").parts);
    return c.json(await fileView(ctx, row), 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/files/{id}/multipart",
    tags,
    security,
    summary: "Abort a large upload",
    middleware: user,
    request: { params: IdParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), aborted: z.literal(true) }), "Aborted"),
      ...errorResponses(401, 403, 404, 409, 410),
    },
  }),
  async (c) => {
    const row = await abortLargeUpload(fileContext(c), c.req.valid("param").id);
    return c.json({ id: row.id, aborted: true as const }, 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "post",
    path: "/files/{id}/confirm",
    tags,
    security,
    summary: "Confirm a presigned upload",
    description:
      "Ready when the object exists with the declared size and type (an image's bytes must be that image); 409 while it has not arrived; 410 once the upload expired.",
    middleware: user,
    request: { params: IdParam },
    responses: {
      200: jsonContent(FileSchema, "The file, ready"),
      ...errorResponses(400, 401, 403, 404, 409, 410, 413, 415),
    },
  }),
  async (c) => {
    const ctx = fileContext(c);
    return c.json(await fileView(ctx, await confirmUpload(ctx, c.req.valid("param").id)), 200);
  },
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
    const { files, total } = await listFiles(fileContext(c), {
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
    const row = await getReadyFile(fileContext(c), c.req.valid("param").id);
    return fileContentResponse(c.env, row, c.req.raw, { download: c.req.valid("query").download === "1" });
  },
);

fileRoutes.openapi(
  createRoute({
    method: "get",
    path: "/files/{id}/info",
    tags,
    security,
    summary: "A file's metadata (seed 004)",
    middleware: user,
    request: { params: IdParam },
    responses: { 200: jsonContent(FileSchema, "The file"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const ctx = fileContext(c);
    return c.json(await fileView(ctx, await getOwnedFile(ctx, c.req.valid("param").id)), 200);
  },
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
    await verifyDownloadSignature(c.env, id, q.expires, q.sig);
    const row = await findFileById(c.var.db, id);
    if (!row) throw notFound("File");
    return fileContentResponse(c.env, assertReadable(row), c.req.raw, { download: q.download === "1" });
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
    const ctx = fileContext(c);
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
    const ctx = fileContext(c);
    const row = await renameFile(ctx, c.req.valid("param").id, c.req.valid("json").filename);
    return c.json(await fileView(ctx, row), 200);
  },
);

fileRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/files/{id}",
    tags,
    security,
    summary: "Delete a file and its bytes",
    middleware: user,
    request: { params: IdParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), deleted: z.literal(true) }), "Deleted"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const row = await deleteFile(fileContext(c), c.req.valid("param").id);
    return c.json({ id: row.id, deleted: true as const }, 200);
  },
);
