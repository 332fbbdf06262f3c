import { sign, verify } from "hono/jwt";
import { z } from "zod";
import { AppError } from "../lib/errors";

export const API_KEY_PREFIX = "ce_live_";
export const REFRESH_TOKEN_PREFIX = "ce_rt_";
export const MACHINE_TOKEN_PREFIX = "ce_mach_";

const accessClaims = z.object({
  sub: z.string(),
  sid: z.string(),
  role: z.enum(["user", "admin"]),
  typ: z.literal("access"),
  exp: z.number(),
});

export type AccessClaims = z.infer<typeof accessClaims>;

export async function signAccessToken(
  secret: string,
  claims: Omit<AccessClaims, "typ" | "exp">,
  ttlSeconds: number,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ ...claims, typ: "access", iat: now, exp: now + ttlSeconds }, secret, "HS256");
}

export async function verifyAccessToken(secret: string, token: string): Promise<AccessClaims> {
  let payload: unknown;
  try {
    payload = await verify(token, secret, "HS256");
  } catch (err) {
    const expired = err instanceof Error && err.name === "JwtTokenExpired";
    throw new AppError("unauthorized", expired ? "Access token has expired" : "Invalid access token");
  }
  const claims = accessClaims.safeParse(payload);
  if (!claims.success) throw new AppError("unauthorized", "Invalid access token");
  return claims.data;
}
