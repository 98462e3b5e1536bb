// Creating a folder and its missing parents, for paths a user names (--out, --meter-out, a data or
// key folder, a database file's folder).
//
// Not mkdirSync(path, { recursive: true }): on Node 20 that never returns for a path under /proc
// (`--out /proc/x` spun at full CPU for over 12 minutes and ignored SIGINT and SIGTERM, since the
// loop is inside one synchronous call). Each missing folder is made on its own here, so such a path
// fails at once with the system's own error (ENOENT, EACCES, ENOTDIR, EEXIST), which callers report.
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

/** Makes `path` and any missing parents (like `mkdir -p`); throws the first failure, changes nothing after it. */
export const makeDirs = (path: string, mode?: number): void => {
  const missing: string[] = [];
  // The path as given, not resolved: `link/../x` is where the kernel puts it, beside the link's target.
  for (let p = path; ; p = dirname(p)) {
    let found: Stats | undefined;
    try {
      found = statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (found?.isDirectory()) break;
    if (found) throw Object.assign(new Error(`EEXIST: ${p} exists and is not a folder`), { code: 'EEXIST' });
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p, mode === undefined ? undefined : { mode });
    } catch (e) {
      // Made meanwhile by another process: fine, as mkdir -p.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(p).isDirectory()) throw e;
    }
  }
};
