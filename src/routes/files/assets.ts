import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonContent } from "../../lib/openapi";
import { parseOrThrow } from "../../lib/validation";
import { requireUser, userContext } from "../../middleware/auth";
import { assetView, deleteAsset, getAsset, listAssets, normaliseFolder } from "../../services/assets";
import { storeFormUpload } from "../../services/file-streams";
import { contentTypeOrThrow, createPresignedUpload } from "../../services/files";
import { DeletedSchema, serveById } from "./by-id";
import { isMultipart, jsonOrEmpty, jsonUnlessMultipart } from "./files";
import { formUploadBody } from "./schemas";

const AssetSchema = z
  .object({
    id: z.string().openapi({ example: "3b0f7c8e-1d2a-4e5f-9a6b-7c8d9e0f1a2b" }),
    name: z.string().openapi({ example: "portrait.png" }),
    is_folder: z.literal(false),
    path: z.string().openapi({ example: "/characters/portrait.png" }),
    parent_path: z.string().openapi({ example: "/characters" }),
    file_size: z.number().int().nullable().openapi({ example: 1048576 }),
    mime_type: z.string().openapi({ example: "image/png" }),
    url: z.string().openapi({ example: "https://api.example.com/api/files/…/content?expires=…&sig=…" }),
    download_url: z.string(),
    status: z.enum(["pending", "ready", "expired"]).openapi({ example: "ready" }),
    sha256: z.string().nullable(),
    created_at: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    updated_at: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
  })
  .openapi("Asset");

const AssetUploadSchema = AssetSchema.extend({
  upload_url: z
    .string()
    .nullable()
    .openapi({ description: "Presigned PUT (JSON requests); null when uploaded" }),
  upload_headers: z.record(z.string(), z.string()).nullable(),
  expires_at: z.string().nullable(),
}).openapi("AssetUpload");

const AssetListSchema = z
  .object({
    path: z.string().openapi({ example: "/" }),
    folders: z.array(
      z.object({
        name: z.string().openapi({ example: "characters" }),
        path: z.string().openapi({ example: "/characters" }),
        is_folder: z.literal(true),
      }),
    ),
    assets: z.array(AssetSchema),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .openapi("AssetList");

const PresignAssetSchema = z
  .object({
    filename: z.string().min(1).max(1024).openapi({ example: "portrait.png" }),
    content_type: z.string().min(3).max(200).openapi({ example: "image/png" }),
    file_size: z
      .number()
      .int()
      .min(0)
      .max(5 * 1024 ** 3)
      .openapi({ example: 1048576 }),
    parent_path: z.string().max(512).optional().openapi({ example: "/characters" }),
  })
  .openapi("PresignAssetRequest");

const tags = ["Assets"];
const security = [{ bearerAuth: [] }];
const user = [requireUser];

export const assetRoutes = createRouter();

assetRoutes.openapi(
  createRoute({
    method: "get",
    path: "/assets",
    tags,
    security,
    summary: "List your asset library at a folder path",
    middleware: user,
    request: {
      query: z.object({
        path: z.string().max(512).optional().openapi({ example: "/" }),
        limit: z.coerce.number().int().min(1).max(100).default(50),
        offset: z.coerce.number().int().min(0).max(100_000).default(0),
      }),
    },
    responses: {
      200: jsonContent(AssetListSchema, "Sub-folders and assets"),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => c.json(await listAssets(userContext(c), c.req.valid("query")), 200),
);

assetRoutes.openapi(
  createRoute({
    method: "post",
    path: "/assets/upload",
    tags,
    security,
    summary: "Add an asset: multipart/form-data (streamed), or JSON for a presigned upload URL",
    description:
      "Folder from `?parent_path=` (or a `parent_path` form field). With JSON, PUT the bytes to `upload_url`; the asset is ready once they arrive.",
    middleware: [requireUser, jsonUnlessMultipart],
    request: {
      query: z.object({ parent_path: z.string().max(512).optional().openapi({ example: "/characters" }) }),
      body: {
        required: false,
        content: { "application/json": { schema: PresignAssetSchema }, ...formUploadBody },
      },
    },
    responses: {
      201: jsonContent(AssetUploadSchema, "The asset"),
      ...errorResponses(400, 401, 403, 413, 415, 503),
    },
  }),
  async (c) => {
    const ctx = userContext(c);
    const query = c.req.valid("query");
    const folder = query.parent_path !== undefined ? normaliseFolder(query.parent_path) : undefined;
    if (isMultipart(c)) {
      const row = await storeFormUpload(ctx, c.req.raw, {
        purpose: "asset",
        folder,
        parseFolder: (value) => normaliseFolder(value),
      });
      return c.json(
        { ...(await assetView(ctx, row)), upload_url: null, upload_headers: null, expires_at: null },
        201,
      );
    }
    const body = parseOrThrow(PresignAssetSchema, await jsonOrEmpty(c));
    const { row, upload } = await createPresignedUpload(ctx, {
      filename: body.filename,
      contentType: contentTypeOrThrow(body.content_type),
      size: body.file_size,
      purpose: "asset",
      folder: folder ?? normaliseFolder(body.parent_path),
    });
    const view = await assetView(ctx, row);
    return c.json(
      { ...view, upload_url: upload.url, upload_headers: upload.headers, expires_at: upload.expiresAt },
      201,
    );
  },
);

serveById(
  assetRoutes,
  {
    method: "get",
    path: "/assets/{id}",
    tags,
    summary: "An asset",
    schema: AssetSchema,
    answer: "The asset",
  },
  async (ctx, id) => assetView(ctx, await getAsset(ctx, id)),
);

serveById(
  assetRoutes,
  {
    method: "delete",
    path: "/assets/{id}",
    tags,
    summary: "Delete an asset and its bytes",
    schema: DeletedSchema,
    answer: "Deleted",
  },
  async (ctx, id) => ({ id: (await deleteAsset(ctx, id)).id, deleted: true as const }),
);
