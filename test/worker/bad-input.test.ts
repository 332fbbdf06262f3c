import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE } from "../helpers/http";
import { createUser, type TestUser } from "../helpers/users";

/**
 * Hostile input for every route the API documents, generated from `/api/doc`: wrong types, bounds,
 * deep and huge JSON, unicode edge cases, traversal and CRLF in names and ids. Whatever comes in, the
 * answer is never a 5xx, every error is the uniform envelope, and a refused request creates nothing.
 */

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  anyOf?: Schema[];
  oneOf?: Schema[];
  example?: unknown;
};
type Operation = {
  parameters?: { name: string; in: "path" | "query" }[];
  requestBody?: { content: Record<string, { schema?: Schema }> };
};
type OpenApi = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
};

const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const LONG = "x".repeat(5000);

/** Path segments and query values, already URL-encoded. */
const HOSTILE_SEGMENTS = [
  crypto.randomUUID(),
  "..%2F..%2Fetc%2Fpasswd",
  "a%0D%0AX-Injected%3A%201",
  LONG,
  "%ED%A0%80",
  "%00",
  "%F0%9F%98%80",
];
const HOSTILE_QUERY = ["-1", "1e309", "%0D%0ASet-Cookie%3A%20a%3D1", "%ED%A0%80", LONG];
/** Property values as JSON text, so some can be what JSON.stringify would never produce. */
const HOSTILE_VALUES = [
  "123",
  '"text"',
  "null",
  "{}",
  "18446744073709551615",
  JSON.stringify("x".repeat(20_000)),
  '"\\ud800"',
  JSON.stringify("../../etc/passwd\r\nX-Injected: 1"),
  deep(100),
];
const HOSTILE_BODIES = [
  "not json",
  "",
  "[]",
  "null",
  '"str"',
  deep(10_000),
  '{"a":1,"a":2}',
  "{".repeat(100),
];

function resolve(doc: OpenApi, schema: Schema | undefined): Schema | undefined {
  if (!schema) return undefined;
  if (schema.$ref) return resolve(doc, doc.components.schemas[schema.$ref.split("/").pop() ?? ""]);
  const variant = (schema.anyOf ?? schema.oneOf)?.map((s) => resolve(doc, s)).find((s) => s?.properties);
  return variant ?? schema;
}

/** A plausible body from the schema's examples, for the one hostile property to sit in. */
function exampleBody(schema: Schema | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema?.properties ?? {})) {
    if (prop.example !== undefined) body[name] = prop.example;
  }
  return body;
}

type Case = { method: string; path: string; body?: string; contentType?: string };

function casesFor(doc: OpenApi, path: string, method: string, op: Operation): Case[] {
  const M = method.toUpperCase();
  const params = op.parameters ?? [];
  const fill = (segment: string) => path.replace(/\{[^}]+\}/g, segment);
  const cases: Case[] = HOSTILE_SEGMENTS.filter((_s, i) => i === 0 || path.includes("{")).map((s) => ({
    method: M,
    path: fill(s),
  }));
  const okPath = fill(crypto.randomUUID());
  for (const q of params.filter((p) => p.in === "query")) {
    for (const value of HOSTILE_QUERY) cases.push({ method: M, path: `${okPath}?${q.name}=${value}` });
  }
  const json = op.requestBody?.content["application/json"];
  if (json) {
    const schema = resolve(doc, json.schema);
    const base = exampleBody(schema);
    for (const body of HOSTILE_BODIES)
      cases.push({ method: M, path: okPath, body, contentType: "application/json" });
    for (const name of Object.keys(schema?.properties ?? {})) {
      for (const value of HOSTILE_VALUES) {
        const rest = JSON.stringify({ ...base, [name]: undefined }).slice(1, -1);
        const body = `{${rest ? `${rest},` : ""}${JSON.stringify(name)}:${value}}`;
        cases.push({ method: M, path: okPath, body, contentType: "application/json" });
      }
    }
    cases.push({ method: M, path: okPath, body: JSON.stringify(base), contentType: "text/xml" });
  }
  if (op.requestBody?.content["multipart/form-data"]) {
    const name = "../../etc/passwd\r\nX-Injected: 1.png";
    const form = `--b\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: image/png\r\n\r\nnot a png\r\n--b--\r\n`;
    cases.push({ method: M, path: okPath, body: form, contentType: "multipart/form-data; boundary=b" });
    cases.push({
      method: M,
      path: okPath,
      body: "--b\r\nbroken",
      contentType: "multipart/form-data; boundary=b",
    });
    cases.push({ method: M, path: okPath, body: form, contentType: "multipart/form-data" });
  }
  return cases;
}

const TABLES = ["runs", "workflows", "deployments", "files", "machines", "api_keys"] as const;

/** The user's rows per table, and (where asked) every user there is: only the auth routes make users. */
async function rowCounts(userId: string, withUsers: boolean) {
  const columns = TABLES.map((t) => `(SELECT count(*) FROM ${t} WHERE user_id = ?1) AS ${t}`);
  if (withUsers) columns.push("(SELECT count(*) FROM users) AS users");
  return JSON.stringify(
    await env.DB.prepare(`SELECT ${columns.join(", ")}`)
      .bind(userId)
      .first<Record<string, number>>(),
  );
}

async function send(user: TestUser, c: Case) {
  const headers = new Headers({ Authorization: `Bearer ${user.apiKey}` });
  if (c.contentType) headers.set("Content-Type", c.contentType);
  const res = await exports.default.fetch(`${BASE}${c.path}`, { method: c.method, headers, body: c.body });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get("Content-Type") ?? "" };
}

const ENVELOPE_KEYS = ["details", "error", "message", "request_id", "timestamp"];

type Op = { path: string; method: string; op: Operation };

/**
 * Sends every case of `ops` in order as `user`, checking each answer and that a refused request
 * changed none of the user's rows (nor, with `withUsers`, the users). Returns what went wrong.
 */
async function hostileRun(doc: OpenApi, user: TestUser, ops: Op[], withUsers: boolean) {
  const failures: string[] = [];
  let sent = 0;
  let counts = await rowCounts(user.id, withUsers);
  for (const { path, method, op } of ops) {
    for (const c of casesFor(doc, path, method, op)) {
      const before = counts;
      const res = await send(user, c);
      sent += 1;
      const what = `${c.method} ${c.path.slice(0, 120)} ${(c.body ?? "").slice(0, 80)} → ${res.status}`;
      if (res.status >= 500) failures.push(`${what} ${res.text.slice(0, 200)}`);
      if (res.status >= 400) {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(res.text);
        } catch {
          failures.push(`${what}: not JSON`);
        }
        if (JSON.stringify(Object.keys(body).sort()) !== JSON.stringify(ENVELOPE_KEYS))
          failures.push(`${what}: not the envelope ${res.text.slice(0, 120)}`);
      }
      counts = await rowCounts(user.id, withUsers);
      if (res.status >= 400 && counts !== before)
        failures.push(`${what}: created rows ${before} → ${counts}`);
    }
  }
  return { failures, sent };
}

/** Requests wait on D1 and Durable Objects most of their time: this many users send side by side. */
const LANES = 4;

describe("bad input on every documented route", () => {
  it("never answers 5xx, always with the error envelope, and creates nothing when it refuses", async () => {
    const doc = (await (await exports.default.fetch(`${BASE}/api/doc`)).json()) as OpenApi;
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.length).toBeGreaterThan(60);
    // The auth routes (which make users) go one by one after the rest, logging out last so the key
    // stays valid for everything else; the others are dealt round the lanes, each lane its own user.
    const isAuth = (o: Op) => o.path.startsWith("/api/auth/");
    const auth = operations
      .filter(isAuth)
      .sort((a, b) => Number(a.path.endsWith("/logout")) - Number(b.path.endsWith("/logout")));
    const rest = operations.filter((o) => !isAuth(o));
    const lanes = Array.from({ length: LANES }, (_, lane) => rest.filter((_, i) => i % LANES === lane));
    const users = await Promise.all(lanes.map((_, i) => createUser(`hostile${i}`)));

    const usersBefore = await rowCounts("", true);
    const results = await Promise.all(
      lanes.map((ops, i) => hostileRun(doc, users[i] as TestUser, ops, false)),
    );
    const usersAfter = await rowCounts("", true);
    results.push(await hostileRun(doc, users[0] as TestUser, auth, true));

    const sent = results.reduce((n, r) => n + r.sent, 0);
    const failures = results.flatMap((r) => r.failures);
    if (usersAfter !== usersBefore)
      failures.push(`users made outside the auth routes: ${usersBefore} → ${usersAfter}`);
    console.log(`bad-input: ${sent} requests over ${operations.length} operations`);
    expect(auth.length).toBeGreaterThan(0);
    expect(sent).toBeGreaterThan(500);
    expect(failures).toEqual([]);
  }, 120_000);
});
