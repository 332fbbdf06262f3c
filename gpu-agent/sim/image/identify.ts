import { decodePng } from "./png";
import { type Raster, solid } from "./raster";

export type ImageFormat = "PNG" | "JPEG" | "GIF" | "WEBP" | "BMP";

export interface ImageSize {
  format: ImageFormat;
  width: number;
  height: number;
}

/** Reads an image file's format and size from its header, as Pillow's `Image.open` would; undefined if unknown. */
export function identifyImage(bytes: Buffer): ImageSize | undefined {
  const size = (format: ImageFormat, width: number, height: number) =>
    width > 0 && height > 0 ? { format, width, height } : undefined;
  if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47) {
    return size("PNG", bytes.readUInt32BE(16), bytes.readUInt32BE(20));
  }
  if (bytes.length >= 10 && bytes.toString("latin1", 0, 3) === "GIF") {
    return size("GIF", bytes.readUInt16LE(6), bytes.readUInt16LE(8));
  }
  if (bytes.length >= 26 && bytes.toString("latin1", 0, 2) === "BM") {
    return size("BMP", bytes.readInt32LE(18), Math.abs(bytes.readInt32LE(22)));
  }
  if (
    bytes.length >= 30 &&
    bytes.toString("latin1", 0, 4) === "RIFF" &&
    bytes.toString("latin1", 8, 12) === "WEBP"
  ) {
    return webpSize(bytes);
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes);
  return undefined;
}

function webpSize(bytes: Buffer): ImageSize | undefined {
  const kind = bytes.toString("latin1", 12, 16);
  if (kind === "VP8X")
    return { format: "WEBP", width: bytes.readUIntLE(24, 3) + 1, height: bytes.readUIntLE(27, 3) + 1 };
  if (kind === "VP8L") {
    const bits = bytes.readUInt32LE(21);
    return { format: "WEBP", width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
  }
  if (kind === "VP8 ") {
    return {
      format: "WEBP",
      width: bytes.readUInt16LE(26) & 0x3fff,
      height: bytes.readUInt16LE(28) & 0x3fff,
    };
  }
  return undefined;
}

function jpegSize(bytes: Buffer): ImageSize | undefined {
  for (let offset = 2; offset + 9 < bytes.length; ) {
    if (bytes[offset] !== 0xff) return undefined;
    const marker = bytes[offset + 1] as number;
    // Start-of-frame markers (C0..CF, except DHT C4, JPG C8 and DAC CC) carry the size.
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return {
        format: "JPEG",
        width: bytes.readUInt16BE(offset + 7),
        height: bytes.readUInt16BE(offset + 5),
      };
    }
    offset += 2 + bytes.readUInt16BE(offset + 2);
  }
  return undefined;
}

export interface LoadedImage {
  image: Raster;
  alpha?: Uint8Array;
}

/**
 * Opens an uploaded picture: PNGs are decoded; other formats the simulator can only size come back as a
 * mid-grey picture of that size. Undefined for bytes that are no picture at all (Pillow's UnidentifiedImageError).
 */
export function loadImage(bytes: Buffer): LoadedImage | undefined {
  const size = identifyImage(bytes);
  if (!size) return undefined;
  const decoded = size.format === "PNG" ? decodePng(bytes) : undefined;
  return decoded ?? { image: solid(size.width, size.height, 0x808080) };
}
