import type { Db } from "./db/client";

/** Secrets are set with `wrangler secret put` in production and `.dev.vars` locally. */
export interface Secrets {
  JWT_SECRET: string;
  /** Signs download URLs and upload tokens; falls back to JWT_SECRET when unset. */
  URL_SIGNING_SECRET?: string;
  R2_ACCESS_KEY_ID?: string;
  R2_SECRET_ACCESS_KEY?: string;
  /** The bucket's S3 endpoint, e.g. https://<account>.r2.cloudflarestorage.com/<bucket>. */
  R2_S3_ENDPOINT?: string;
}

export type Bindings = Env & Secrets;

export type Principal = {
  kind: "user";
  userId: string;
  role: "user" | "admin";
  via: "api_key" | "jwt";
  sessionId?: string;
  apiKeyId?: string;
};

export type AppEnv = {
  Bindings: Bindings;
  Variables: {
    requestId: string;
    db: Db;
    principal: Principal;
    /** Set once the request was counted against its principal's rate limits. */
    rateCounted?: boolean;
    /** The rate-limit verdict still on its way (`requireUserAdmittedBeforeWrites`); rejects past a limit. */
    admission?: Promise<void>;
  };
};
