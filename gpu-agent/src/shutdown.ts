import type { Logger } from "./log";

/** What a graceful shutdown needs from the agent. */
export interface Drainable {
  /** Takes no new jobs and tells the control plane so (heartbeat with `draining: true`). */
  startDraining(): void;
  /** Resolves true once no job is running, false after timeoutMs. */
  waitForJobs(timeoutMs: number): Promise<boolean>;
  /** Stops what is still running in ComfyUI and reports each job `released` with the reason. */
  releaseJobs(reason: string): Promise<void>;
  /** Resolves true once every report is acked, false after timeoutMs. */
  flushReports(timeoutMs: number): Promise<boolean>;
  /** Closes the link with 1000 and stops every timer. */
  close(): Promise<void>;
}

export interface ShutdownOptions {
  graceMs: number;
  /** How long to wait for the control plane to ack the last reports. */
  flushTimeoutMs: number;
  log: Logger;
}

export const SHUTDOWN_REASON = "agent shutting down";

/** Drains the agent: finish in-flight jobs within the grace period, hand back the rest, flush, close. */
export async function shutdown(agent: Drainable, options: ShutdownOptions): Promise<void> {
  options.log.info("shutting down: taking no new jobs", { grace_s: options.graceMs / 1000 });
  agent.startDraining();
  if (!(await agent.waitForJobs(options.graceMs))) {
    options.log.warn("grace period over; handing the remaining jobs back");
    await agent.releaseJobs(SHUTDOWN_REASON);
  }
  if (!(await agent.flushReports(options.flushTimeoutMs))) {
    options.log.warn("some reports were not acknowledged; they stay in the outbox for the next start");
  }
  await agent.close();
  options.log.info("shut down");
}

/**
 * Runs `shutdown` on the first SIGTERM or SIGINT, then calls `exit(0)`. A second signal exits at once,
 * for an operator who does not want to wait for the grace period.
 */
export function installSignalHandlers(
  agent: Drainable,
  options: ShutdownOptions,
  exit: (code: number) => void,
) {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      options.log.warn(`${signal} again: exiting now`);
      exit(130);
      return;
    }
    stopping = true;
    options.log.info(`${signal} received`);
    shutdown(agent, options).then(
      () => exit(0),
      (error) => {
        options.log.error("shutdown failed", { error });
        exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
