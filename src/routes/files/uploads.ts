import { createRoute, z } from "@hono/zod-openapi";
import { extensionFor } from "../../lib/file-types";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { parseOrThrow } from "../../lib/validation";
import { requireUser, userContext } from "../../middleware/auth";
import { KiB, limitBody } from "../../middleware/body-limit";
import { storeFormUpload } from "../../services/file-streams";
import {
  contentTypeOrThrow,
  createPresignedUpload,
  type FileContext,
  type FileRow,
  fileView,
} from "../../services/files";
import {
  abortLargeUpload,
  completeLargeUpload,
  createLargeUpload,
  signLargeUploadParts,
} from "../../services/large-uploads";
import { isMultipart, jsonOrEmpty, jsonUnlessMultipart } from "./files";
import {
  CompleteLargeUploadSchema,
  FileSchema,
  FilesUploadResponseSchema,
  FileUploadRequestSchema,
  FormUploadResponseSchema,
  formUploadBody,
  IdParam,
  LargeUploadRequestSchema,
  LargeUploadSchema,
  PresignedUploadSchema,
  SignPartsSchema,
  UploadUrlQuerySchema,
  UploadUrlRequestSchema,
} from "./schemas";

/** How bytes get in: presigned PUTs, R2 multipart with presigned parts, and streamed form uploads. */
const tags = ["Files"];
const security = [{ bearerAuth: [] }];
const json = [requireUser, limitBody(16 * KiB)];
const user = [requireUser];
const bigJson = [requireUser, limitBody(1024 * KiB)];

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

export const uploadRoutes = createRouter();
uploadRoutes.openapi(
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
    const ctx = userContext(c);
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
      ttlSeconds: body.expires_in,
    });
    return c.json(await presignedView(ctx, created), 200);
  },
);

uploadRoutes.openapi(
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
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  }),
  async (c) => {
    const ctx = userContext(c);
    const body = c.req.valid("json");
    const created = await createPresignedUpload(ctx, {
      filename: body.filename,
      contentType: contentTypeOrThrow(body.content_type),
      size: body.file_size ?? null,
      ttlSeconds: body.expires_in,
    });
    return c.json(await presignedView(ctx, created), 200);
  },
);

uploadRoutes.openapi(
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
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  }),
  async (c) => {
    const ctx = userContext(c);
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

uploadRoutes.openapi(
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
      200: jsonContent(FilesUploadResponseSchema, "The stored file"),
      ...errorResponses(400, 401, 403, 413, 415),
    },
  }),
  async (c) => {
    const ctx = userContext(c);
    const view = await formUploadView(ctx, await storeFormUpload(ctx, c.req.raw, { purpose: "upload" }));
    const data = { fileId: view.id, filename: view.filename, url: view.file_url };
    return c.json({ ...view, code: 200 as const, data }, 200);
  },
);

uploadRoutes.openapi(
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
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const upload = await createLargeUpload(userContext(c), {
      filename: body.filename,
      contentType: contentTypeOrThrow(body.content_type),
      size: body.file_size,
      partSize: body.part_size,
    });
    return c.json(upload, 201);
  },
);

uploadRoutes.openapi(
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
      await signLargeUploadParts(userContext(c), c.req.valid("param").id, body.part_numbers),
      200,
    );
  },
);

uploadRoutes.openapi(
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
    const ctx = userContext(c);
    const row = await completeLargeUpload(ctx, c.req.valid("param").id, c.req.valid("json").parts);
    return c.json(await fileView(ctx, row), 200);
  },
);

uploadRoutes.openapi(
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
    const row = await abortLargeUpload(userContext(c), c.req.valid("param").id);
    return c.json({ id: row.id, aborted: true as const }, 200);
  },
);
