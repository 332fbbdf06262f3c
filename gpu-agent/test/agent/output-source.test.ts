import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ComfyFolders } from "../../src/comfy-folders";
import { silentLogger } from "../../src/log";
import type { OutputFile } from "../../src/uploads/output-files";
import { type OpenOutput, outputOpener } from "../../src/uploads/output-source";

let comfyDir: string;
let viewed: OutputFile[];
const fromView: OpenOutput = async (file) => {
  viewed.push(file);
  return { body: Readable.from([Buffer.from("from /view")]), contentType: "image/png", size: 10 };
};
const output = (filename: string, type = "output", subfolder = "edge"): OutputFile => ({
  node_id: "9",
  kind: "images",
  filename,
  subfolder,
  type,
});
const read = async (open: OpenOutput, file: OutputFile) => {
  const source = await open(file, new AbortController().signal);
  return { ...source, body: Buffer.concat(await source.body.toArray()).toString() };
};

beforeEach(() => {
  comfyDir = mkdtempSync(join(tmpdir(), "comfyui-"));
  viewed = [];
  mkdirSync(join(comfyDir, "output", "edge"), { recursive: true });
  mkdirSync(join(comfyDir, "temp"), { recursive: true });
  writeFileSync(join(comfyDir, "output", "edge", "a_00001_.png"), "bytes on disk");
  writeFileSync(join(comfyDir, "temp", "p_00001_.png"), "temp bytes");
  writeFileSync(join(comfyDir, "secret.txt"), "not an output");
});

afterEach(() => rmSync(comfyDir, { recursive: true, force: true }));

describe("where an output's bytes are read from", () => {
  const folders = () => new ComfyFolders(comfyDir, silentLogger);

  it("reads output and temp files from ComfyUI's folders, sized by the file, without /view", async () => {
    const open = outputOpener(folders(), fromView);
    expect(await read(open, output("a_00001_.png"))).toMatchObject({
      body: "bytes on disk",
      size: 13,
      contentType: null,
    });
    expect(await read(open, output("p_00001_.png", "temp", ""))).toMatchObject({
      body: "temp bytes",
      size: 10,
    });
    expect(viewed).toEqual([]);
  });

  it("asks /view for a file not on disk, one of another folder type, or a name leaving its folder", async () => {
    const open = outputOpener(folders(), fromView);
    const missing = output("gone_00001_.png");
    const input = output("a_00001_.png", "input");
    const escaping = output("../secret.txt", "output", "");
    for (const file of [missing, input, escaping]) {
      expect(await read(open, file)).toMatchObject({ body: "from /view", contentType: "image/png" });
    }
    expect(viewed).toEqual([missing, input, escaping]);
  });

  it("uses /view alone when the agent does not know ComfyUI's directory", async () => {
    expect(outputOpener(undefined, fromView)).toBe(fromView);
  });
});
