import { describe, expect, it } from "vitest";
import {
  bytesMatchType,
  contentDisposition,
  normaliseContentType,
  sanitiseFilename,
  sniffImageType,
} from "../../src/lib/file-types";
import { boundaryOf, parseMultipart, readField } from "../../src/lib/multipart";
import { isLocalOrigin } from "../../src/lib/s3-presign";
import { normaliseFolder } from "../../src/services/assets";
import { parseRange } from "../../src/services/file-content";
import { JPEG_BYTES, multipartBody, PNG_BYTES } from "../helpers/files";

function streamOf(bytes: Uint8Array, chunkSize: number) {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, boundary: string) {
  const parts = [];
  for await (const part of parseMultipart(stream, boundary)) {
    const chunks: number[] = [];
    for await (const chunk of part.body) chunks.push(...chunk);
    parts.push({
      name: part.name,
      filename: part.filename,
      type: part.contentType,
      bytes: new Uint8Array(chunks),
    });
  }
  return parts;
}

describe("parseMultipart", () => {
  const tricky = new TextEncoder().encode("line1\r\n--not-the-boundary\r\n--boundar\r\nend");
  const body = multipartBody(
    [
      { name: "description", value: "hello" },
      { name: "file", value: tricky, filename: "a.txt", type: "text/plain" },
      { name: "empty", value: "" },
    ],
    "boundary",
  );

  it.each([1, 2, 3, 7, 64, 100_000])(
    "finds every part when the body arrives in %i-byte chunks",
    async (size) => {
      const parts = await collect(streamOf(body.body, size), "boundary");
      expect(parts.map((p) => [p.name, p.filename, p.type])).toEqual([
        ["description", null, null],
        ["file", "a.txt", "text/plain"],
        ["empty", null, null],
      ]);
      expect(parts[1]!.bytes).toEqual(tricky);
      expect(new TextDecoder().decode(parts[0]!.bytes)).toBe("hello");
      expect(parts[2]!.bytes.length).toBe(0);
    },
  );

  it("skips a preamble, reads RFC 5987 names and lets unread parts be skipped", async () => {
    const text = [
      "preamble\r\n--b",
      'Content-Disposition: form-data; name="skip"; filename="s.bin"',
      "",
      "xxxxxxxx",
      "--b",
      `Content-Disposition: form-data; name="file"; filename="x.png"; filename*=UTF-8''caf%C3%A9.png`,
      "",
      "data",
      "--b--",
      "",
    ].join("\r\n");
    const names = [];
    for await (const part of parseMultipart(streamOf(new TextEncoder().encode(text), 5), "b")) {
      names.push(part.filename);
      if (part.name === "file") expect(await readField(part)).toBe("data");
    }
    expect(names).toEqual(["s.bin", "café.png"]);
  });

  it("rejects truncated and header-less bodies", async () => {
    const truncated = body.body.slice(0, body.body.length - 30);
    await expect(collect(streamOf(truncated, 16), "boundary")).rejects.toMatchObject({ code: "bad_request" });
    const bare = new TextEncoder().encode("--b\r\n\r\nno headers\r\n--b--");
    await expect(collect(streamOf(bare, 4), "b")).rejects.toMatchObject({ code: "bad_request" });
    const none = new TextEncoder().encode("no boundary at all");
    await expect(collect(streamOf(none, 4), "b")).rejects.toMatchObject({ code: "bad_request" });
  });

  it("reads the boundary from the content type", () => {
    expect(boundaryOf("multipart/form-data; boundary=abc")).toBe("abc");
    expect(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b"')).toBe("a b");
    expect(boundaryOf("application/json")).toBeNull();
    expect(boundaryOf("multipart/form-data")).toBeNull();
  });
});

describe("filenames and types", () => {
  it.each([
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\me\\photo.png", "photo.png"],
    ["..hidden", "hidden"],
    ["a\u202etxt.exe", "atxt.exe"],
    ['we"ird<>|name?.png', "weirdname.png"],
    ["CON.txt", "_CON.txt"],
    ["   ", "file"],
    [`${"é".repeat(300)}.png`, `${"é".repeat(98)}.png`],
  ])("sanitises %j to %j", (raw, expected) => {
    expect(sanitiseFilename(raw)).toBe(expected);
  });

  it("sniffs images by their bytes", () => {
    expect(sniffImageType(PNG_BYTES)).toBe("image/png");
    expect(sniffImageType(JPEG_BYTES)).toBe("image/jpeg");
    expect(sniffImageType(new TextEncoder().encode("GIF89a..."))).toBe("image/gif");
    expect(sniffImageType(new TextEncoder().encode("RIFF....WEBPVP8 "))).toBe("image/webp");
    expect(sniffImageType(new TextEncoder().encode("hello"))).toBeNull();
    expect(bytesMatchType("image/png", JPEG_BYTES)).toBe(false);
    expect(bytesMatchType("image/x-unknown", PNG_BYTES)).toBe(false);
    expect(bytesMatchType("text/plain", PNG_BYTES)).toBe(true);
  });

  it("normalises content types and writes a safe disposition", () => {
    expect(normaliseContentType("Image/PNG; charset=x")).toBe("image/png");
    expect(normaliseContentType("png")).toBeNull();
    expect(normaliseContentType("text/html\r\nX-Evil: 1")).toBeNull();
    expect(contentDisposition('a"b\\c.txt', false)).toBe(
      `attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`,
    );
  });

  it("parses byte ranges", () => {
    expect(parseRange("bytes=0-0", 10)).toEqual({ offset: 0, length: 1 });
    expect(parseRange("bytes=5-100", 10)).toEqual({ offset: 5, length: 5 });
    expect(parseRange("bytes=-20", 10)).toEqual({ offset: 0, length: 10 });
    expect(parseRange("bytes=10-", 10)).toBe("unsatisfiable");
    expect(parseRange("bytes=5-2", 10)).toBeNull();
    expect(parseRange("items=0-1", 10)).toBeNull();
    expect(parseRange(null, 10)).toBeNull();
  });

  it("normalises asset folders", () => {
    expect(normaliseFolder(undefined)).toBe("/");
    expect(normaliseFolder("a//b/")).toBe("/a/b");
    expect(() => normaliseFolder("/a/../b")).toThrow();
    expect(() => normaliseFolder("/a/.")).toThrow();
  });

  it("knows local origins", () => {
    expect(isLocalOrigin("http://127.0.0.1:8787")).toBe(true);
    expect(isLocalOrigin("http://localhost:8787")).toBe(true);
    expect(isLocalOrigin("http://[::1]:8787")).toBe(true);
    expect(isLocalOrigin("http://comfy-edge.test")).toBe(true);
    expect(isLocalOrigin("https://api.example.com")).toBe(false);
    expect(isLocalOrigin("https://localhost.example.com")).toBe(false);
  });
});
