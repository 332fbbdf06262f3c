/** Filenames, content types and the bytes that prove them. */

const MAX_FILENAME_BYTES = 200;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
const encoder = new TextEncoder();

/**
 * A name safe for a `Content-Disposition`, a ComfyUI input folder and any file system: no path, no
 * control or shell-special characters, no leading dots, at most 200 UTF-8 bytes with its extension kept.
 */
export function sanitiseFilename(raw: string, fallback = "file"): string {
  const base = raw.normalize("NFC").split(/[/\\]/).pop() ?? "";
  let name = base
    .replace(/\p{Cc}/gu, " ")
    .replace(/[\p{Cf}<>:"|?*]/gu, "")
    .replace(/\s+/g, " ")
    .replace(/^[\s.]+|[\s.]+$/g, "");
  if (!name) return fallback;
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  if (encoder.encode(name).length <= MAX_FILENAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  let stem = name.slice(0, name.length - ext.length);
  while (encoder.encode(stem + ext).length > MAX_FILENAME_BYTES) stem = [...stem].slice(0, -1).join("");
  return stem + ext;
}

const BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  avif: "image/avif",
  svg: "image/svg+xml",
  mp4: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  flac: "audio/flac",
  ogg: "audio/ogg",
  json: "application/json",
  txt: "text/plain",
  csv: "text/csv",
  pdf: "application/pdf",
  zip: "application/zip",
  safetensors: "application/octet-stream",
};

export const OCTET_STREAM = "application/octet-stream";

export function contentTypeFromName(filename: string): string {
  const ext = filename.split(".").pop()?.toLowerCase() ?? "";
  return BY_EXTENSION[ext] ?? OCTET_STREAM;
}

export function extensionFor(contentType: string): string {
  const found = Object.entries(BY_EXTENSION).find(([, type]) => type === contentType);
  return found ? `.${found[0]}` : "";
}

/** `Image/PNG; charset=x` → `image/png`; anything that is not `type/subtype` is rejected. */
export function normaliseContentType(value: string): string | null {
  const essence = value.split(";")[0]?.trim().toLowerCase() ?? "";
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$/.test(essence) ? essence : null;
}

const startsWith = (bytes: Uint8Array, signature: number[], offset = 0) =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
const ascii = (text: string) => [...text].map((ch) => ch.charCodeAt(0));

/** The raster image type these leading bytes are, if any. */
export function sniffImageType(head: Uint8Array): string | null {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(head, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(head, ascii("GIF87a")) || startsWith(head, ascii("GIF89a"))) return "image/gif";
  if (startsWith(head, ascii("RIFF")) && startsWith(head, ascii("WEBP"), 8)) return "image/webp";
  if (startsWith(head, ascii("BM"))) return "image/bmp";
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a]))
    return "image/tiff";
  if (startsWith(head, ascii("ftypavif"), 4) || startsWith(head, ascii("ftypavis"), 4)) return "image/avif";
  return null;
}

/** Image types whose bytes we can check; any other `image/*` is stored only as something else. */
export const CHECKED_IMAGE_TYPES = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "image/bmp",
  "image/tiff",
  "image/avif",
]);

/**
 * Whether the bytes may be stored as `declared`: an image type must be one we can check and must be
 * what the bytes are; other types are taken as declared (they are served so they cannot run as a page).
 */
export function bytesMatchType(declared: string, head: Uint8Array): boolean {
  if (!declared.startsWith("image/") || declared === "image/svg+xml") return true;
  return CHECKED_IMAGE_TYPES.has(declared) && sniffImageType(head) === declared;
}

/** The type a browser may render inline without running script from our origin. */
const INLINE_SAFE =
  /^(image\/(png|jpeg|gif|webp|bmp|tiff|avif)|video\/[a-z0-9.+-]+|audio\/[a-z0-9.+-]+|text\/plain|application\/pdf)$/;

export function isInlineSafe(contentType: string): boolean {
  return INLINE_SAFE.test(contentType);
}

/** `inline` or `attachment` with an ASCII fallback and the UTF-8 name (RFC 6266 / 8187). */
export function contentDisposition(filename: string, inline: boolean): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${inline ? "inline" : "attachment"}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
