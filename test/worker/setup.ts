import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { dialWorker } from "../helpers/http";
import { setDefaultDial } from "../helpers/test-agent";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
setDefaultDial(dialWorker);
