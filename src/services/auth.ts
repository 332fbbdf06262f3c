import type { Db } from "../db/client";
import type { Bindings, Principal } from "../env";
import { randomToken, sha256Hex } from "../lib/crypto";
import { AppError } from "../lib/errors";
import { newId, nowIso } from "../lib/ids";
import { hashPassword, verifyPassword } from "../lib/password";
import { TtlCache } from "../lib/ttl-cache";
import { findActiveKeyByHash, touchApiKey } from "../stores/api-keys";
import {
  createSession,
  findActiveSession,
  findRefreshToken,
  revokeSession,
  rotateRefreshToken,
} from "../stores/sessions";
import { findUserById, findUserByLogin, insertUser, type UserRow } from "../stores/users";
import {
  API_KEY_PREFIX,
  MACHINE_TOKEN_PREFIX,
  REFRESH_TOKEN_PREFIX,
  signAccessToken,
  verifyAccessToken,
} from "./tokens";

export type TokenPair = {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  expires_in: number;
};

const ttl = (env: Bindings) => ({
  access: Number(env.ACCESS_TOKEN_TTL_SECONDS) || 1800,
  refresh: Number(env.REFRESH_TOKEN_TTL_SECONDS) || 30 * 86400,
});

export function publicUser(user: UserRow) {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    role: user.role,
    is_active: user.isActive,
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}

export async function registerUser(db: Db, input: { email: string; username: string; password: string }) {
  const created = await insertUser(db, {
    id: newId(),
    email: input.email.trim().toLowerCase(),
    username: input.username.trim().toLowerCase(),
    passwordHash: await hashPassword(input.password),
  });
  if (!created) throw new AppError("conflict", "A user with this email or username already exists");
  return created;
}

async function newRefreshToken(env: Bindings, sessionId: string) {
  const plaintext = randomToken(REFRESH_TOKEN_PREFIX);
  const row = {
    id: newId(),
    sessionId,
    tokenHash: await sha256Hex(plaintext),
    expiresAt: new Date(Date.now() + ttl(env).refresh * 1000).toISOString(),
  };
  return { plaintext, row };
}

async function tokenPair(
  env: Bindings,
  user: UserRow,
  sessionId: string,
  refresh: string,
): Promise<TokenPair> {
  const expiresIn = ttl(env).access;
  const access = await signAccessToken(
    env.JWT_SECRET,
    { sub: user.id, sid: sessionId, role: user.role },
    expiresIn,
  );
  return { access_token: access, refresh_token: refresh, token_type: "bearer", expires_in: expiresIn };
}

export async function login(
  db: Db,
  env: Bindings,
  loginName: string,
  password: string,
): Promise<TokenPair & { username: string }> {
  const user = await findUserByLogin(db, loginName);
  // Verify against a dummy hash when the user is unknown so timing does not reveal which logins exist.
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !ok) throw new AppError("unauthorized", "Invalid credentials");
  if (!user.isActive) throw new AppError("forbidden", "This account is disabled");
  const sessionId = newId();
  const refresh = await newRefreshToken(env, sessionId);
  await createSession(db, { id: sessionId, userId: user.id }, refresh.row);
  return { ...(await tokenPair(env, user, sessionId, refresh.plaintext)), username: user.username };
}

/** Rotates a refresh token; presenting one that was already used revokes its whole session. */
export async function refresh(db: Db, env: Bindings, token: string): Promise<TokenPair> {
  const found = await findRefreshToken(db, await sha256Hex(token));
  if (!found) throw new AppError("unauthorized", "Invalid refresh token");
  const { token: row, session } = found;
  if (session.revokedAt) throw new AppError("unauthorized", "This session has ended");
  if (row.usedAt) {
    await revokeSession(db, session.id);
    throw new AppError("unauthorized", "Refresh token reuse detected; the session has been revoked");
  }
  if (row.expiresAt < nowIso()) throw new AppError("unauthorized", "Refresh token has expired");
  const user = await findUserById(db, session.userId);
  if (!user?.isActive) throw new AppError("unauthorized", "Invalid refresh token");
  const next = await newRefreshToken(env, session.id);
  if (!(await rotateRefreshToken(db, row.id, next.row))) {
    await revokeSession(db, session.id);
    throw new AppError("unauthorized", "Refresh token reuse detected; the session has been revoked");
  }
  return tokenPair(env, user, session.id, next.plaintext);
}

export async function logout(db: Db, sessionId: string) {
  await revokeSession(db, sessionId);
}

/** Resolves a bearer credential (API key or access JWT) to the user it acts for. */
export async function authenticate(db: Db, env: Bindings, token: string): Promise<Principal> {
  if (token.startsWith(MACHINE_TOKEN_PREFIX)) {
    throw new AppError("forbidden", "Machine tokens may only use the agent endpoints");
  }
  if (token.startsWith(API_KEY_PREFIX)) return authenticateApiKey(db, token);
  const claims = await verifyAccessToken(env.JWT_SECRET, token);
  const [session, user] = await Promise.all([
    findActiveSession(db, claims.sid),
    findUserById(db, claims.sub),
  ]);
  if (!session || session.userId !== claims.sub) throw new AppError("unauthorized", "This session has ended");
  if (!user?.isActive) throw new AppError("unauthorized", "Invalid access token");
  return { kind: "user", userId: user.id, role: user.role, via: "jwt", sessionId: session.id };
}

/**
 * API keys each isolate has resolved, by the key's hash, trusted for `API_KEY_STALE_MS`: the written
 * bound (docs/security.md) on how long a revoked key or a disabled account keeps working in an isolate
 * other than the one that revoked it. The revoking isolate forgets the key at once (`forgetApiKey`).
 */
export const API_KEY_STALE_MS = 5_000;
const principalsByKeyHash = new TtlCache<Principal>(API_KEY_STALE_MS, 10_000);

/** Stops this isolate accepting a key from its cache (it was just revoked here). */
export const forgetApiKey = (apiKeyId: string) =>
  principalsByKeyHash.deleteWhere((p) => p.apiKeyId === apiKeyId);

async function authenticateApiKey(db: Db, token: string): Promise<Principal> {
  const keyHash = await sha256Hex(token);
  const principal = await principalsByKeyHash.getOrLoad(keyHash, () => loadApiKeyPrincipal(db, keyHash));
  if (!principal) throw new AppError("unauthorized", "Invalid or revoked API key");
  return principal;
}

async function loadApiKeyPrincipal(db: Db, keyHash: string): Promise<Principal | undefined> {
  const found = await findActiveKeyByHash(db, keyHash);
  if (!found) return undefined;
  if (!found.user.isActive) throw new AppError("forbidden", "This account is disabled");
  // Last use is kept to the minute, so a busy key does not cost a write per request.
  const lastUsed = found.key.lastUsedAt ? Date.parse(found.key.lastUsedAt) : 0;
  if (Date.now() - lastUsed > 60_000) await touchApiKey(db, found.key.id);
  return {
    kind: "user",
    userId: found.user.id,
    role: found.user.role,
    via: "api_key",
    apiKeyId: found.key.id,
  };
}

const DUMMY_HASH = "pbkdf2_sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/** The signed-in user; a token for a user that no longer exists is refused. */
export async function currentUser(db: Db, userId: string): Promise<UserRow> {
  const user = await findUserById(db, userId);
  if (!user) throw new AppError("unauthorized", "Unknown user");
  return user;
}
