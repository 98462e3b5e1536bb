// What every CLI command provides. Commands parse their own flags with node:util parseArgs (strict),
// so an unknown or malformed flag is a clear usage error, never a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nearestName } from '../domain/nearest.ts';
import { FlexError } from '../errors.ts';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  /** Help for a subcommand (`flexlon signals show --help`); the command's usage when absent. */
  help?(argv: readonly string[]): string | undefined;
  /**
   * A long-running service (`flexlon run`): SIGTERM or SIGINT is how it is meant to stop, so it
   * exits with what run returns (0 after a clean stop) instead of 128 + signal, which service
   * managers would count as a failure.
   */
  readonly service?: boolean;
  run(argv: readonly string[], io: Output, signal: AbortSignal): Promise<number>;
}

/**
 * `--jobs -3` as `--jobs=-3`: node's parseArgs reads a value that starts with "-" as another option and
 * calls the flag ambiguous, so a negative number never reached the flag's own check, which says what
 * range it takes. Only a string option followed by a number is joined; `--out --from` still is an error.
 */
const negativeValuesJoined = (argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): string[] => {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    // After "--" every argument is a positional, taken as it is.
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
};

export const parseFlags = <O extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: O,
  usage: string,
  allowPositionals = false,
) => {
  try {
    return parseArgs({
      args: negativeValuesJoined(argv, options),
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
    });
  } catch (e) {
    const message = (e as Error).message;
    // node's own words for `--out --from …` (a value forgotten) or `--seed -1` end in a placeholder,
    // '--seed=-XYZ'; say what to type instead.
    const dash = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message);
    const unknown = /^Unknown option '--([\w-]+)'/.exec(message);
    const near = unknown ? nearestName(unknown[1] as string, Object.keys(options)) : undefined;
    const said = dash
      ? `${dash[1]} needs a value, and what follows it starts with "-": if that is its value, write ${dash[1]}=VALUE`
      : `${message.replace(/\. To specify.*$/s, '')}${near ? `: did you mean --${near}?` : ''}`;
    throw new FlexError('FLX_CLI_USAGE', `${said}\n\n${usage}`);
  }
};
