import type { Raster } from "./raster";

/**
 * A baseline JPEG that keeps only each 8×8 block's average colour (DC coefficients, no AC). It is a
 * valid JPEG any decoder reads, small and cheap: enough for the live previews a sampler streams.
 */
export function encodeBlockJpeg(image: Raster): Buffer {
  const bits = new BitWriter();
  const previous = [0, 0, 0];
  for (let by = 0; by < Math.ceil(image.height / 8); by++) {
    for (let bx = 0; bx < Math.ceil(image.width / 8); bx++) {
      blockMeans(image, bx, by).forEach((mean, component) => {
        // DC = 8·mean after the level shift; the quantiser is 8, so the coefficient is the mean itself.
        const dc = Math.round(mean - 128);
        writeDc(bits, dc - (previous[component] as number));
        previous[component] = dc;
        bits.write(0, 1); // end of block: the AC table's only code
      });
    }
  }
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]), // JFIF 1.1
    segment(0xdb, [0, 8, ...new Array(63).fill(1)]), // one quantisation table; DC step 8
    segment(0xc0, [8, ...u16(image.height), ...u16(image.width), 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]),
    segment(0xc4, [0x00, ...DC_COUNTS, ...DC_SYMBOLS, 0x10, 1, ...new Array(15).fill(0), 0x00]),
    segment(0xda, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]),
    bits.finish(),
    Buffer.from([0xff, 0xd9]),
  ]);
}

/** The standard luminance DC table: code lengths per size category 0..11. */
const DC_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const DC_CODES = canonicalCodes(DC_COUNTS, DC_SYMBOLS);

function canonicalCodes(counts: number[], symbols: number[]): Map<number, { code: number; length: number }> {
  const codes = new Map<number, { code: number; length: number }>();
  let code = 0;
  let next = 0;
  counts.forEach((count, index) => {
    for (let i = 0; i < count; i++) codes.set(symbols[next++] as number, { code: code++, length: index + 1 });
    code <<= 1;
  });
  return codes;
}

function writeDc(bits: BitWriter, diff: number) {
  const magnitude = Math.abs(diff);
  const category = magnitude === 0 ? 0 : Math.floor(Math.log2(magnitude)) + 1;
  const { code, length } = DC_CODES.get(category) as { code: number; length: number };
  bits.write(code, length);
  if (category > 0) bits.write(diff > 0 ? diff : diff + (1 << category) - 1, category);
}

/** The block's mean Y, Cb and Cr; pixels past the edge repeat the last row and column. */
function blockMeans(image: Raster, bx: number, by: number): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  for (let y = 0; y < 8; y++) {
    const sy = Math.min(by * 8 + y, image.height - 1);
    for (let x = 0; x < 8; x++) {
      const offset = (sy * image.width + Math.min(bx * 8 + x, image.width - 1)) * 3;
      r += image.rgb[offset] as number;
      g += image.rgb[offset + 1] as number;
      b += image.rgb[offset + 2] as number;
    }
  }
  [r, g, b] = [r / 64, g / 64, b / 64];
  return [
    0.299 * r + 0.587 * g + 0.114 * b,
    -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
    0.5 * r - 0.418688 * g - 0.081312 * b + 128,
  ];
}

function segment(marker: number, payload: number[]): Buffer {
  return Buffer.from([0xff, marker, ...u16(payload.length + 2), ...payload]);
}

function u16(value: number): number[] {
  return [(value >> 8) & 0xff, value & 0xff];
}

/** Entropy-coded bits, most significant first, with JPEG's 0x00 stuffed after every 0xFF byte. */
class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private used = 0;

  write(value: number, length: number) {
    for (let i = length - 1; i >= 0; i--) {
      this.current = (this.current << 1) | ((value >> i) & 1);
      if (++this.used === 8) this.emit();
    }
  }

  finish(): Buffer {
    while (this.used !== 0) this.write(1, 1); // pad the last byte with ones
    return Buffer.from(this.bytes);
  }

  private emit() {
    this.bytes.push(this.current);
    if (this.current === 0xff) this.bytes.push(0);
    this.current = 0;
    this.used = 0;
  }
}
