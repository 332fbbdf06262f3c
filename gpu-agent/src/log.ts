import type { LogLevel } from "./config";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** One line per entry on stderr: `<time> <LEVEL> <message> {fields}`; readable in journalctl. */
export function createLogger(level: LogLevel, write: (line: string) => void = writeStderr): Logger {
  const at = (entryLevel: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[entryLevel] < RANK[level]) return;
    const suffix = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : "";
    write(`${new Date().toISOString()} ${entryLevel.toUpperCase()} ${message}${suffix}`);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function writeStderr(line: string) {
  process.stderr.write(`${line}\n`);
}

function safeJson(fields: LogFields): string {
  return JSON.stringify(fields, (_key, value) => (value instanceof Error ? value.message : value));
}
