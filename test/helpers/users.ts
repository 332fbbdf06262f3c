import { api } from "./http";

let counter = 0;

export type TestUser = {
  id: string;
  email: string;
  username: string;
  password: string;
  access: string;
  refresh: string;
  apiKey: string;
};

/** Registers a fresh user with its own rows, logs in and creates an API key. */
export async function createUser(label = "user"): Promise<TestUser> {
  counter += 1;
  const unique = `${label}${counter}${crypto.randomUUID().slice(0, 8)}`.toLowerCase();
  const email = `${unique}@example.com`;
  const password = "correct horse battery";
  const reg = await api<{ id: string }>("/api/auth/register", {
    method: "POST",
    json: { email, username: unique, password },
  });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await api<{ access_token: string; refresh_token: string }>("/api/auth/login", {
    method: "POST",
    json: { email, password },
  });
  const key = await api<{ key: string }>("/api/keys", {
    method: "POST",
    token: login.body.access_token,
    json: { name: "test" },
  });
  return {
    id: reg.body.id,
    email,
    username: unique,
    password,
    access: login.body.access_token,
    refresh: login.body.refresh_token,
    apiKey: key.body.key,
  };
}
