// `flexlon run registry`: its listen address, store and log level.
import type { RegistryConfig } from '../../compose/config.ts';
import type { ConfigReader } from '../config-reader.ts';
import { readListen, readLogLevel, readStore } from './common.ts';

export const readRegistry = (c: ConfigReader): RegistryConfig => {
  const listen = readListen(c);
  const store = readStore(c);
  const logLevel = readLogLevel(c);
  c.optionalString('role');
  c.done();
  return { listen, store, logLevel };
};
