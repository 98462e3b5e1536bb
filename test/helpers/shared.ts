// Paths to the shared reference material beside the project (specs, vectors, grid data). Tests read
// these files in place; they are never copied into the project (their licences forbid it).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedRoot = process.env.FLEXLON_SHARED_DIR ?? resolve(projectRoot, '..', 'shared');

export const sharedPath = (...parts: string[]): string => {
  const p = join(sharedRoot, ...parts);
  if (!existsSync(p))
    throw new Error(`shared reference file ${p} is missing (set FLEXLON_SHARED_DIR to the shared folder)`);
  return p;
};

export const readSharedJson = <T>(...parts: string[]): T => JSON.parse(readFileSync(sharedPath(...parts), 'utf8')) as T;
