import { en } from "zod/locales";
import * as z from "zod/mini";
import { Agent } from "./agent";
import { ConfigError, HELP_TEXT, parseCli } from "./config";
import { createLogger } from "./log";
import { applyNodeFlags } from "./node-flags";
import { installSignalHandlers } from "./shutdown";
import { AGENT_VERSION } from "./version";

// zod/mini loads no locale: without this every issue (a bad setting, an odd reply) reads "Invalid input".
z.config(en());

/** Exit codes: 0 shut down, 1 crashed, 2 bad configuration, 3 the control plane will not take us back. */
async function main(): Promise<number> {
  let command: ReturnType<typeof parseCli>;
  try {
    command = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`comfy-edge-agent: ${error.message}\n`);
    return 2;
  }
  if (command.kind === "help") {
    process.stdout.write(HELP_TEXT);
    return 0;
  }
  if (command.kind === "version") {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }

  applyNodeFlags();
  const { config } = command;
  const log = createLogger(config.logLevel);
  log.info(`comfy-edge-agent ${AGENT_VERSION} starting`, { server: config.server, comfy: config.comfy });
  const agent = await Agent.start({ config, log });
  installSignalHandlers(
    agent,
    { graceMs: config.shutdownGraceS * 1000, flushTimeoutMs: 10_000, log },
    (code) => process.exit(code),
  );
  const exit = await agent.exited;
  if (exit.code !== 0) process.stderr.write(`comfy-edge-agent: ${exit.message}\n`);
  return exit.code;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(
      `comfy-edge-agent crashed: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
    );
    process.exit(1);
  },
);
