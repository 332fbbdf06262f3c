import { z } from "@hono/zod-openapi";
import { FILE_PURPOSES, FILE_STATUSES } from "../../db/schema";

const id = "3b0f7c8e-1d2a-4e5f-9a6b-7c8d9e0f1a2b";
const signedUrl = `https://api.example.com/api/files/${id}/content?expires=1767225600&sig=Zm9v…`;
const fileSize = z
  .number()
  .int()
  .min(0)
  .max(5 * 1024 ** 4);
const uploadTtl = z
  .number()
  .int()
  .min(1)
  .max(86400)
  .optional()
  .openapi({ example: 3600, description: "Seconds the upload URL works (default 3600)" });

export const FileSchema = z
  .object({
    id: z.string().openapi({ example: id }),
    file_id: z.string().openapi({ example: id, description: "Same as id (seed 004 / ComfyDeploy name)" }),
    filename: z.string().openapi({ example: "input_image.png" }),
    file_name: z.string().openapi({ example: "input_image.png" }),
    size: z.number().int().nullable().openapi({ example: 1048576 }),
    content_type: z.string().openapi({ example: "image/png" }),
    status: z.enum(FILE_STATUSES).openapi({ example: "ready" }),
    purpose: z.enum(FILE_PURPOSES).openapi({ example: "upload" }),
    folder: z.string().openapi({ example: "/" }),
    description: z.string().nullable().openapi({ example: null }),
    sha256: z.string().nullable().openapi({ example: null }),
    run_id: z.string().nullable().openapi({ example: null }),
    created_at: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    updated_at: z.string().nullable().openapi({ example: null }),
    expires_at: z
      .string()
      .nullable()
      .openapi({ example: null, description: "When a pending upload expires" }),
    confirmed_at: z.string().nullable().openapi({ example: "2026-01-01T00:00:05.000Z" }),
    download_url: z
      .string()
      .openapi({ example: signedUrl, description: "Signed; works without a token for a day" }),
    file_url: z.string().openapi({ example: signedUrl }),
  })
  .openapi("File");

export const PresignedUploadSchema = z
  .object({
    upload_url: z
      .string()
      .openapi({ example: "https://<account>.r2.cloudflarestorage.com/bucket/uploads/…?X-Amz-…" }),
    upload_method: z.literal("PUT"),
    upload_headers: z
      .record(z.string(), z.string())
      .openapi({ example: { "Content-Type": "image/png" }, description: "Send exactly these with the PUT" }),
    file_id: z.string().openapi({ example: id }),
    download_url: z.string().openapi({ example: signedUrl }),
    file_url: z.string().openapi({ example: signedUrl }),
    expires_at: z
      .string()
      .openapi({ example: "2026-01-01T01:00:00.000Z", description: "When upload_url expires" }),
    confirm_url: z.string().openapi({ example: `https://api.example.com/api/files/${id}/confirm` }),
    file: FileSchema,
  })
  .openapi("PresignedUpload");

export const FileUploadRequestSchema = z
  .object({
    type: z.string().min(3).max(200).openapi({ example: "image/png", description: "Content type" }),
    file_size: fileSize.openapi({ example: 1048576 }),
    filename: z.string().min(1).max(1024).optional().openapi({ example: "input_image.png" }),
    expires_in: uploadTtl,
  })
  .openapi("FileUploadRequest");

export const UploadUrlRequestSchema = z
  .object({
    filename: z.string().min(1).max(1024).openapi({ example: "input_image.png" }),
    content_type: z.string().min(3).max(200).openapi({ example: "image/png" }),
    file_size: fileSize.optional().openapi({ example: 1048576, description: "Binds the size into the URL" }),
    expires_in: uploadTtl,
  })
  .openapi("UploadUrlRequest");

export const UploadUrlQuerySchema = z.object({
  type: z.string().min(3).max(200).openapi({ example: "image/png" }),
  file_size: z.coerce.number().pipe(fileSize).openapi({ example: 1048576 }),
  filename: z.string().min(1).max(1024).optional().openapi({ example: "input_image.png" }),
});

export const FormUploadResponseSchema = FileSchema.extend({
  message: z.string().openapi({ example: "File uploaded successfully" }),
  upload_url: z.null(),
}).openapi("FormUploadResponse");

/** `POST /api/files/upload` is seed 004's and seed 003's: both shapes in one body. */
export const FilesUploadResponseSchema = FormUploadResponseSchema.extend({
  code: z.literal(200),
  data: z.object({ fileId: z.string(), filename: z.string(), url: z.string() }),
}).openapi("FilesUploadResponse");

/** Documented, not validated by the router: the handler streams the body itself. */
export const formUploadBody = {
  "multipart/form-data": {
    schema: {
      type: "object" as const,
      required: ["file"],
      properties: {
        file: { type: "string" as const, format: "binary" },
        description: { type: "string" as const },
      },
    },
  },
};

export const LargeUploadRequestSchema = z
  .object({
    filename: z.string().min(1).max(1024).openapi({ example: "model.safetensors" }),
    content_type: z.string().min(3).max(200).openapi({ example: "application/octet-stream" }),
    file_size: fileSize.min(1).openapi({ example: 5_000_000_000 }),
    part_size: z
      .number()
      .int()
      .min(5 * 1024 * 1024)
      .max(5 * 1024 ** 3)
      .optional()
      .openapi({ example: 16777216, description: "Bytes per part (default 16 MiB)" }),
  })
  .openapi("LargeUploadRequest");

const PartUrlSchema = z.object({
  part_number: z.number().int().openapi({ example: 1 }),
  size: z.number().int().openapi({ example: 16777216, description: "The exact length this part must have" }),
  upload_url: z.string().openapi({ example: "https://…?partNumber=1&uploadId=…&X-Amz-Signature=…" }),
  headers: z.record(z.string(), z.string()),
});

export const LargeUploadSchema = z
  .object({
    file_id: z.string().openapi({ example: id }),
    upload_id: z.string().openapi({ example: "AAA…" }),
    part_size: z.number().int().openapi({ example: 16777216 }),
    part_count: z.number().int().openapi({ example: 299 }),
    parts: z.array(PartUrlSchema).openapi({ description: "PUT each part; keep each response's ETag" }),
    expires_at: z.string().openapi({ example: "2026-01-02T00:00:00.000Z" }),
  })
  .openapi("LargeUpload");

export const CompleteLargeUploadSchema = z
  .object({
    parts: z
      .array(
        z.object({
          part_number: z.number().int().min(1).max(10_000).openapi({ example: 1 }),
          etag: z.string().min(1).max(200).openapi({ example: '"a1b2c3"' }),
        }),
      )
      .min(1)
      .max(10_000),
  })
  .openapi("CompleteLargeUpload");

export const SignPartsSchema = z
  .object({ part_numbers: z.array(z.number().int().min(1).max(10_000)).min(1).max(1000).optional() })
  .openapi("SignPartsRequest");

export const FileListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  offset: z.coerce.number().int().min(0).max(100_000).default(0).openapi({ example: 0 }),
  purpose: z.enum(FILE_PURPOSES).optional(),
  status: z.enum(FILE_STATUSES).optional(),
  run_id: z.string().max(64).optional(),
});

export const FileListSchema = z
  .object({
    files: z.array(FileSchema),
    total: z.number().int().openapi({ example: 1 }),
    limit: z.number().int().openapi({ example: 20 }),
    offset: z.number().int().openapi({ example: 0 }),
  })
  .openapi("FileList");

export const RenameSchema = z
  .object({ filename: z.string().trim().min(1).max(1024).openapi({ example: "portrait.png" }) })
  .openapi("RenameFile");

export const DownloadUrlRequestSchema = z
  .object({
    expires_in: z
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(3600)
      .openapi({ example: 3600, description: "Seconds the URL works (at most 7 days)" }),
  })
  .openapi("DownloadUrlRequest");

export const DownloadUrlSchema = z
  .object({
    url: z.string().openapi({ example: signedUrl }),
    download_url: z.string().openapi({ example: signedUrl }),
    expires_at: z.string().openapi({ example: "2026-01-01T01:00:00.000Z" }),
  })
  .openapi("DownloadUrl");

export const ContentQuerySchema = z.object({
  expires: z.coerce.number().int().openapi({ example: 1767225600 }),
  sig: z.string().min(1).max(128).openapi({ example: "Zm9v…" }),
  download: z.enum(["0", "1"]).optional().openapi({ description: "1: always as an attachment" }),
});

export const DownloadQuerySchema = z.object({
  download: z.enum(["0", "1"]).optional().openapi({ description: "1: always as an attachment" }),
});

export const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: id }),
});

export const binaryResponses = {
  200: {
    description: "The bytes, with the file's Content-Type and a safe Content-Disposition",
    content: { "application/octet-stream": { schema: { type: "string" as const, format: "binary" } } },
  },
  206: { description: "The requested byte range (Content-Range)" },
  304: { description: "Not modified (If-None-Match / If-Modified-Since)" },
  416: { description: "The range starts past the end" },
};
