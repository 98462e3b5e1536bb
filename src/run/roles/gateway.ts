// `flexlon run gateway`: who it is, where, its store, keys and registry, and its limits.
import type { GatewayConfig } from '../../compose/config.ts';
import type { ConfigReader } from '../config-reader.ts';
import {
  readKeys,
  readListen,
  readLogLevel,
  readRateLimit,
  readRegistryRef,
  readStore,
  readVerifyThreads,
} from './common.ts';

export const readGateway = (c: ConfigReader): GatewayConfig => {
  const id = c.string('id');
  const listen = readListen(c);
  const store = readStore(c);
  const keys = readKeys(c);
  const registry = readRegistryRef(c);
  const logLevel = readLogLevel(c);
  const verifyThreads = readVerifyThreads(c);
  const rateLimit = readRateLimit(c);
  c.optionalString('role');
  c.done();
  return { id, listen, store, keys, registry, logLevel, verifyThreads, ...rateLimit };
};
