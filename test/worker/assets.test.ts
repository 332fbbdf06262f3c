import { describe, expect, it } from "vitest";
import { fetchWorker, PNG_BYTES, putToPresigned, readyFile, uploadForm } from "../helpers/files";
import { api } from "../helpers/http";
import { createUser } from "../helpers/users";

type Asset = {
  id: string;
  name: string;
  path: string;
  parent_path: string;
  url: string;
  upload_url: string | null;
};
type AssetList = { path: string; folders: { name: string; path: string }[]; assets: Asset[]; total: number };

const upload = (token: string, name: string, parent?: string) =>
  uploadForm(`/api/assets/upload${parent ? `?parent_path=${encodeURIComponent(parent)}` : ""}`, token, [
    { name: "file", value: PNG_BYTES, filename: name, type: "image/png" },
  ]);

describe("assets", () => {
  it("uploads into folders and lists a folder with its sub-folders", async () => {
    const user = await createUser();
    const root = await upload(user.apiKey, "root.png");
    expect(root.status).toBe(201);
    expect(root.body).toMatchObject({
      name: "root.png",
      path: "/root.png",
      parent_path: "/",
      is_folder: false,
    });
    await upload(user.apiKey, "hero.png", "/characters/");
    await upload(user.apiKey, "villain.png", "characters/evil");
    await upload(user.apiKey, "sky.png", "/backgrounds");

    const top = await api<AssetList>("/api/assets", { token: user.apiKey });
    expect(top.status).toBe(200);
    expect(top.body.assets.map((a) => a.name)).toEqual(["root.png"]);
    expect(top.body.folders.map((f) => f.path)).toEqual(["/backgrounds", "/characters"]);

    const chars = await api<AssetList>("/api/assets?path=/characters", { token: user.apiKey });
    expect(chars.body.assets.map((a) => a.path)).toEqual(["/characters/hero.png"]);
    expect(chars.body.folders).toEqual([{ name: "evil", path: "/characters/evil", is_folder: true }]);
  });

  it("takes the folder from a form field too", async () => {
    const user = await createUser();
    const res = await uploadForm("/api/assets/upload", user.apiKey, [
      { name: "parent_path", value: "/inputs" },
      { name: "file", value: PNG_BYTES, filename: "a.png", type: "image/png" },
    ]);
    expect(res.body).toMatchObject({ parent_path: "/inputs" });
  });

  it("hands out a presigned upload for JSON requests", async () => {
    const user = await createUser();
    const res = await api<Asset>("/api/assets/upload", {
      method: "POST",
      token: user.apiKey,
      json: {
        filename: "big.png",
        content_type: "image/png",
        file_size: PNG_BYTES.length,
        parent_path: "/big",
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: "pending", parent_path: "/big" });
    expect(res.body.upload_url).toContain("/cdn-cgi/local/r2/s3/comfy-edge-files/staging/assets/");
    await putToPresigned({ upload_url: res.body.upload_url! }, PNG_BYTES, "image/png");
    const got = await api<Asset>(`/api/assets/${res.body.id}`, { token: user.apiKey });
    expect(got.body).toMatchObject({ status: "ready", file_size: PNG_BYTES.length });
  });

  it("gets and deletes an asset; its URL serves the bytes", async () => {
    const user = await createUser();
    const created = await upload(user.apiKey, "x.png", "/a");
    const id = created.body.id as string;
    const got = await api<Asset>(`/api/assets/${id}`, { token: user.apiKey });
    expect(got.status).toBe(200);
    const bytes = await (await fetchWorker(got.body.url)).arrayBuffer();
    expect(new Uint8Array(bytes)).toEqual(PNG_BYTES);
    expect((await api(`/api/assets/${id}`, { method: "DELETE", token: user.apiKey })).body).toEqual({
      id,
      deleted: true,
    });
    expect((await api(`/api/assets/${id}`, { token: user.apiKey })).status).toBe(404);
  });

  it("rejects bad folder paths", async () => {
    const user = await createUser();
    expect((await upload(user.apiKey, "a.png", "/../etc")).status).toBe(400);
    expect((await upload(user.apiKey, "a.png", "/a/<b>")).status).toBe(400);
    expect((await api("/api/assets?path=/a/..", { token: user.apiKey })).status).toBe(400);
  });

  it("keeps files that are not assets, and other tenants' assets, out (404)", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const plain = await readyFile(alice.apiKey, "x", "text/plain");
    expect((await api(`/api/assets/${plain.file_id}`, { token: alice.apiKey })).status).toBe(404);
    expect(
      (await api(`/api/assets/${plain.file_id}`, { method: "DELETE", token: alice.apiKey })).status,
    ).toBe(404);
    const asset = await upload(alice.apiKey, "mine.png");
    const id = asset.body.id as string;
    expect((await api(`/api/assets/${id}`, { token: bob.apiKey })).status).toBe(404);
    expect((await api(`/api/assets/${id}`, { method: "DELETE", token: bob.apiKey })).status).toBe(404);
    const bobList = await api<AssetList>("/api/assets", { token: bob.apiKey });
    expect(bobList.body.total).toBe(0);
  });

  it("needs a token", async () => {
    expect((await api("/api/assets")).status).toBe(401);
    expect((await api(`/api/assets/${crypto.randomUUID()}`)).status).toBe(401);
    expect(
      (await uploadForm("/api/assets/upload", undefined, [{ name: "file", value: "x", filename: "a" }]))
        .status,
    ).toBe(401);
  });
});
