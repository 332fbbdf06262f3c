/** The keywords of a PNG's tEXt chunks. */
export function pngTextKeys(png: Buffer): string[] {
  const keys: string[] = [];
  for (let offset = 8; offset + 8 <= png.length; ) {
    const length = png.readUInt32BE(offset);
    if (png.toString("latin1", offset + 4, offset + 8) === "tEXt") {
      const data = png.subarray(offset + 8, offset + 8 + length);
      keys.push(data.toString("latin1", 0, data.indexOf(0)));
    }
    offset += 12 + length;
  }
  return keys;
}
