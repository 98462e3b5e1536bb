// Structured JSON logs through pino, behind the Logger interface of src/log.ts (callers need not
// change). Every line carries transaction_id and message_id when logged inside withLogContext —
// the receiver wraps a Beckn message's handling and its callback in one — so one order can be
// followed across agents with a grep. Lines are written synchronously: a process killed with
// SIGKILL (the crash tests do) has written every line it logged before.
import { currentLogContext } from './log-context.ts';
import pino from 'pino';
export { currentLogContext, withLogContext, type LogContext } from './log-context.ts';
import type { Logger, LogLevel } from '../log.ts';

/** Field names whose values are secrets and never reach a log line. */
export const REDACTED_FIELDS = [
  'authorization',
  'password',
  'secret',
  'privateKey',
  'private_key',
  'connectionString',
] as const;

export interface PinoLoggerOptions {
  readonly level: LogLevel;
  /** Fields on every line (e.g. { agent: 'flex' }). */
  readonly base?: Record<string, unknown>;
  /** Where lines go (default: stderr). Anything with write(line). */
  readonly destination?: { write(line: string): unknown };
}

const wrap = (p: pino.Logger): Logger => ({
  debug: (fields, msg) => p.debug(fields, msg),
  info: (fields, msg) => p.info(fields, msg),
  warn: (fields, msg) => p.warn(fields, msg),
  error: (fields, msg) => p.error(fields, msg),
  child: (fields) => wrap(p.child(fields)),
});

export const createPinoLogger = (o: PinoLoggerOptions): Logger =>
  wrap(
    pino(
      {
        level: o.level,
        base: { pid: process.pid, ...o.base },
        // The same shape as src/log.ts: ISO time and the level as a word.
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        // Fields given to a log call win over the context's.
        mixin: () => ({ ...currentLogContext() }),
        redact: { paths: REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: '[redacted]' },
      },
      o.destination ?? pino.destination({ dest: 2, sync: true }),
    ),
  );
