import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { identifyImage, loadImage } from "../../sim/image/identify";
import { encodeBlockJpeg } from "../../sim/image/jpeg";
import { decodePng, encodePng } from "../../sim/image/png";
import { seededGradient, solid } from "../../sim/image/raster";

/** A PNG built by hand, one filter byte per row, to exercise the decoder's colour types. */
function handmadePng(
  width: number,
  height: number,
  colorType: number,
  rows: number[][],
  extra: Buffer[] = [],
) {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, "latin1");
    return Buffer.concat([head, data, Buffer.alloc(4)]); // the decoder does not check CRCs
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, colorType, 0, 0, 0], 8);
  const raw = Buffer.from(rows.flat());
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    ...extra,
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("PNG", () => {
  it("decodes what it encodes", () => {
    const image = seededGradient(13, 7, 42);
    expect(decodePng(encodePng(image, { prompt: "{}" }))?.image).toEqual(image);
  });

  it("decodes RGBA with Sub and Up filters, keeping the alpha", () => {
    // Row 1 (Sub): pixels (10,20,30,255) then +(1,1,1,0); row 2 (Up): same as row 1.
    const png = handmadePng(2, 2, 6, [
      [1, 10, 20, 30, 255, 1, 1, 1, 0],
      [2, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    const decoded = decodePng(png);
    expect([...(decoded?.image.rgb ?? [])]).toEqual([10, 20, 30, 11, 21, 31, 10, 20, 30, 11, 21, 31]);
    expect([...(decoded?.alpha ?? [])]).toEqual([255, 255, 255, 255]);
  });

  it("decodes grey and palette pictures to RGB", () => {
    expect([...(decodePng(handmadePng(2, 1, 0, [[0, 0, 200]]))?.image.rgb ?? [])]).toEqual([
      0, 0, 0, 200, 200, 200,
    ]);
    const palette = Buffer.concat([
      Buffer.from([0, 0, 0, 3, 0x50, 0x4c, 0x54, 0x45, 1, 2, 3]),
      Buffer.alloc(4),
    ]);
    expect([...(decodePng(handmadePng(1, 1, 3, [[0, 0]], [palette]))?.image.rgb ?? [])]).toEqual([1, 2, 3]);
  });
});

describe("JPEG previews", () => {
  it("are baseline JPEGs of the picture's size", () => {
    const jpeg = encodeBlockJpeg(solid(20, 12, 0xff8000));
    expect(jpeg.subarray(0, 2).toString("hex")).toBe("ffd8");
    expect(jpeg.subarray(-2).toString("hex")).toBe("ffd9");
    expect(identifyImage(jpeg)).toEqual({ format: "JPEG", width: 20, height: 12 });
  });
});

describe("identifying uploads", () => {
  it("sizes the formats it cannot decode and rejects what is no picture", () => {
    const gif = Buffer.concat([Buffer.from("GIF89a"), Buffer.from([5, 0, 3, 0])]);
    expect(identifyImage(gif)).toEqual({ format: "GIF", width: 5, height: 3 });
    const loaded = loadImage(gif);
    expect([loaded?.image.width, loaded?.image.height]).toEqual([5, 3]);
    expect(loadImage(Buffer.from("definitely not an image"))).toBeUndefined();
  });
});
