// A minimal structured logger: one JSON object per line on stderr, with a level filter. Lines
// written while a Beckn message is handled carry its transaction_id and message_id (the receiver
// sets them with withLogContext), so one order can be followed across agents with a grep.
import { currentLogContext } from './observability/log-context.ts';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Logger;
}

export const createLogger = (
  level: LogLevel,
  base: Record<string, unknown> = {},
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger => {
  const at = (l: Exclude<LogLevel, 'silent'>) => (fields: Record<string, unknown>, msg: string) => {
    if (RANK[l] < RANK[level]) return;
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level: l, ...currentLogContext(), ...base, ...fields, msg })}\n`,
    );
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (f) => createLogger(level, { ...base, ...f }, write),
  };
};

export const parseLogLevel = (s: string | undefined, fallback: LogLevel): LogLevel =>
  s !== undefined && s in RANK ? (s as LogLevel) : fallback;
