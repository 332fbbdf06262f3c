import { deflateSync, inflateSync } from "node:zlib";
import type { Raster } from "./raster";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit RGB PNG, with `text` as tEXt chunks (ComfyUI stores the prompt and workflow there). */
export function encodePng(image: Raster, text: Record<string, string> = {}): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(image.width, 0);
  header.writeUInt32BE(image.height, 4);
  header.set([8, 2, 0, 0, 0], 8); // depth 8, RGB, deflate, adaptive filtering, no interlace
  const stride = image.width * 3;
  const raw = Buffer.alloc((stride + 1) * image.height);
  for (let y = 0; y < image.height; y++) {
    raw.set(image.rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1); // filter byte 0: none
  }
  const textChunks = Object.entries(text).map(([key, value]) =>
    chunk(
      "tEXt",
      Buffer.concat([Buffer.from(key, "latin1"), Buffer.from([0]), Buffer.from(value, "latin1")]),
    ),
  );
  return Buffer.concat([
    SIGNATURE,
    chunk("IHDR", header),
    ...textChunks,
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface DecodedPng {
  image: Raster;
  /** One byte per pixel where the PNG has transparency. */
  alpha?: Uint8Array;
}

/**
 * Decodes the PNGs a simulator meets: 8- and 16-bit grey, RGB, palette, with or without alpha, and
 * 1/2/4-bit grey and palette, not interlaced. Returns undefined for the rest, which the caller then
 * treats as a picture it can size but not read.
 */
export function decodePng(bytes: Uint8Array): DecodedPng | undefined {
  const chunks = readChunks(Buffer.from(bytes));
  const header = chunks.find((c) => c.type === "IHDR")?.data;
  if (!header || header.length < 13) return undefined;
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const [depth, colorType, , , interlace] = header.subarray(8, 13);
  const channels = CHANNELS[colorType as number];
  if (!channels || interlace !== 0 || depth === undefined) return undefined;
  if (![1, 2, 4, 8, 16].includes(depth) || (depth < 8 && colorType !== 0 && colorType !== 3))
    return undefined;
  const palette = chunks.find((c) => c.type === "PLTE")?.data;
  if (colorType === 3 && !palette) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === "IDAT").map((c) => c.data)));
  } catch {
    return undefined;
  }
  const bitsPerPixel = channels * depth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  if (raw.length < (stride + 1) * height) return undefined;
  const pixels = unfilter(raw, stride, height, Math.max(1, bitsPerPixel / 8));
  return toRgb(pixels, { width, height, depth, colorType: colorType as number, stride, palette });
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function readChunks(bytes: Buffer): { type: string; data: Buffer }[] {
  const chunks: { type: string; data: Buffer }[] = [];
  if (!bytes.subarray(0, 8).equals(SIGNATURE)) return chunks;
  for (let offset = 8; offset + 8 <= bytes.length; ) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("latin1", offset + 4, offset + 8);
    chunks.push({ type, data: bytes.subarray(offset + 8, offset + 8 + length) });
    offset += 12 + length;
  }
  return chunks;
}

function unfilter(raw: Buffer, stride: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] as number;
      const left = x >= bpp ? (out[row + x - bpp] as number) : 0;
      const up = y > 0 ? (out[row - stride + x] as number) : 0;
      const upLeft = y > 0 && x >= bpp ? (out[row - stride + x - bpp] as number) : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter as number] ?? 0;
      out[row + x] = (value + predictor) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

interface Layout {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  stride: number;
  palette: Buffer | undefined;
}

function toRgb(pixels: Uint8Array, layout: Layout): DecodedPng {
  const { width, height, depth, colorType, stride, palette } = layout;
  const channels = CHANNELS[colorType] as number;
  const rgb = new Uint8Array(width * height * 3);
  const hasAlpha = colorType === 4 || colorType === 6;
  const alpha = hasAlpha ? new Uint8Array(width * height) : undefined;
  const sampleAt = (y: number, index: number): number => {
    if (depth === 16) return pixels[y * stride + index * 2] as number; // the high byte
    if (depth === 8) return pixels[y * stride + index] as number;
    const bit = index * depth;
    const byte = pixels[y * stride + (bit >> 3)] as number;
    return (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = x * channels;
      const out = (y * width + x) * 3;
      if (colorType === 3) {
        const entry = sampleAt(y, base) * 3;
        rgb.set([palette?.[entry] ?? 0, palette?.[entry + 1] ?? 0, palette?.[entry + 2] ?? 0], out);
      } else if (colorType === 0 || colorType === 4) {
        const raw = sampleAt(y, base);
        const grey = depth < 8 ? Math.round((raw * 255) / ((1 << depth) - 1)) : raw;
        rgb.set([grey, grey, grey], out);
      } else {
        rgb.set([sampleAt(y, base), sampleAt(y, base + 1), sampleAt(y, base + 2)], out);
      }
      if (alpha) alpha[y * width + x] = sampleAt(y, base + channels - 1);
    }
  }
  return { image: { width, height, rgb }, alpha };
}
