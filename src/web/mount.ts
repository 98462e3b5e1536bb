// Mounts the dashboard on a role's Fastify app (each composer calls this once, before listen).
// The operator token is read from the file the config names, or made there (0600) on first start,
// as the OpenADR intake's token is: a secret by reference, never inline in the config.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { HeadKeys } from '../audit/heads.ts';
import type { Signer } from '../ports.ts';
import type { DashboardSource } from './api.ts';
import { registerDashboard } from './routes.ts';

export interface DashboardConfig {
  /** File holding the operator token; without it the dashboard is read-only. */
  readonly operatorTokenFile?: string;
  /** Folder holding backtest outputs (flexlon backtest --out) for the backtests view. */
  readonly backtestDir?: string;
}

const tokenFrom = (file: string): string => {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
};

/** The role's own head-signing key: heads signed by anyone else are counted, not trusted. */
export const ownHeadKeys =
  (signer: Signer): HeadKeys =>
  (actor, keyId) =>
    actor === signer.subscriberId && keyId === signer.uniqueKeyId ? signer.publicKeyBase64 : undefined;

export const mountDashboard = (
  app: FastifyInstance,
  config: DashboardConfig | undefined,
  source: Omit<DashboardSource, 'headKeys'> & { readonly signer: Signer },
): void => {
  const { signer, ...rest } = source;
  const token = config?.operatorTokenFile ? tokenFrom(config.operatorTokenFile) : undefined;
  registerDashboard(app, {
    ...rest,
    headKeys: ownHeadKeys(signer),
    ...(token ? { operatorToken: token } : {}),
    ...(config?.backtestDir ? { backtestDir: config.backtestDir } : {}),
  });
};
