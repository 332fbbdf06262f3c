import { invalid, notFound } from "../lib/errors";
import { signedDownloadUrl } from "../lib/signed-urls";
import { childFolders, type FileRow, findOwnedFile, listOwnedFiles } from "../stores/files";
import { DOWNLOAD_URL_TTL_SECONDS, deleteFile, type FileContext, settleUpload } from "./files";

const SEGMENT = /^[\p{L}\p{N} _.()+-]{1,100}$/u;

/** `a/b/`, `/a//b` → `/a/b`; `/` is the root. No `.`/`..` segments, no odd characters. */
export function normaliseFolder(raw: string | undefined, field = "parent_path"): string {
  const segments = (raw ?? "/").split("/").filter((s) => s.length > 0);
  for (const segment of segments) {
    if (segment === "." || segment === ".." || !SEGMENT.test(segment)) {
      throw invalid(field, "Folder names are letters, digits, spaces and . _ - ( ) +, without '.' or '..'");
    }
  }
  const path = `/${segments.join("/")}`;
  if (path.length > 512) throw invalid(field, "Folder path is too long");
  return path;
}

/** An asset as ComfyDeploy's library shows it, plus the file fields. */
export async function assetView(ctx: Pick<FileContext, "env" | "origin">, row: FileRow) {
  const url = await signedDownloadUrl(ctx.env, ctx.origin, row.id, DOWNLOAD_URL_TTL_SECONDS);
  return {
    id: row.id,
    name: row.filename,
    is_folder: false as const,
    path: row.folder === "/" ? `/${row.filename}` : `${row.folder}/${row.filename}`,
    parent_path: row.folder,
    file_size: row.size,
    mime_type: row.contentType,
    url,
    download_url: url,
    status: row.status,
    sha256: row.sha256,
    created_at: row.createdAt,
    updated_at: row.updatedAt ?? row.createdAt,
  };
}

export async function listAssets(ctx: FileContext, query: { path?: string; limit: number; offset: number }) {
  const folder = normaliseFolder(query.path, "path");
  const [{ rows, total }, folders] = await Promise.all([
    listOwnedFiles(ctx.db, ctx.userId, {
      purpose: "asset",
      folder,
      limit: query.limit,
      offset: query.offset,
    }),
    childFolders(ctx.db, ctx.userId, folder),
  ]);
  return {
    path: folder,
    folders: folders.map((path) => ({
      name: path.slice(path.lastIndexOf("/") + 1),
      path,
      is_folder: true as const,
    })),
    assets: await Promise.all(rows.map((row) => assetView(ctx, row))),
    total,
    limit: query.limit,
    offset: query.offset,
  };
}

export async function getAsset(ctx: FileContext, id: string) {
  const row = await findOwnedFile(ctx.db, ctx.userId, id);
  if (row?.purpose !== "asset") throw notFound("Asset");
  const settled = await settleUpload(ctx.env, ctx.db, row);
  if (settled.status === "expired") throw notFound("Asset");
  return settled;
}

export const deleteAsset = (ctx: FileContext, id: string) => deleteFile(ctx, id, "asset");
