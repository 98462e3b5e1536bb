// Reading and writing the planning files (docs/planning-problem.md) for the CLI: a file that is
// missing, not JSON, or not in the format becomes one coded error that lists every fault by its
// JSON path. Writes go through a temporary file and a rename, so a half-written schedule never
// replaces a good one.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { FlexError, type ErrorCode } from '../errors.ts';
import { faultLines, validateProblem, validateSchedule, type Validated } from '../optimise/validate.ts';
import { parseJsonText } from '../formats/json.ts';

const readJson = (file: string, flag: string): unknown => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new FlexError('FLX_DATA_INVALID', `${flag} ${file}: ${why}`, { path: flag });
  }
  try {
    return parseJsonText(text, `${flag} ${file}`);
  } catch (e) {
    // "line L, column C" of the first character that makes it invalid, not a byte position.
    throw new FlexError('FLX_DATA_INVALID', (e as Error).message, { path: flag });
  }
};

const accept = <T>(v: Validated<T>, file: string, what: string, code: ErrorCode): T => {
  if (v.ok) return v.value;
  throw new FlexError(
    code,
    [
      `${file} is not a valid ${what} (version 1 or 2); ${v.faults.length} fault${v.faults.length === 1 ? '' : 's'}:`,
      ...faultLines(v.faults),
    ].join('\n'),
    { path: v.faults[0]?.path ?? '$' },
  );
};

export const readProblem = (file: string, flag = '--problem'): PlanningProblem =>
  accept(validateProblem(readJson(file, flag)), file, 'planning problem', 'FLX_PROBLEM_INVALID');

export const readSchedule = (file: string, flag = '--schedule'): Schedule =>
  accept(validateSchedule(readJson(file, flag)), file, 'schedule', 'FLX_SCHEDULE_INVALID');

/** Writes all or nothing (temporary file, then rename); an unwritable path is the user's to fix. */
export const writeJson = (file: string, doc: unknown, flag = '--out'): void => {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(doc, null, 1)}\n`);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'its folder does not exist' : (e as Error).message;
    throw new FlexError('FLX_CONFIG_INVALID', `${flag}: cannot write ${file}: ${why}`, { path: flag });
  }
};
