// The fields every log line written while one Beckn message is handled carries (transaction_id,
// message_id), kept per async context. Its own module so that both loggers (src/log.ts and pino's,
// ./logger.ts) read it without importing each other.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LogContext {
  readonly transaction_id?: string;
  readonly message_id?: string;
  readonly [field: string]: unknown;
}

const context = new AsyncLocalStorage<LogContext>();

/** The fields of the innermost withLogContext around the caller (empty outside any). */
export const currentLogContext = (): LogContext => context.getStore() ?? {};

/** Runs fn so that every log line written inside it (including in what it awaits) carries `fields`. */
export const withLogContext = <T>(fields: LogContext, fn: () => T): T =>
  context.run({ ...context.getStore(), ...fields }, fn);
