// The `flexlon` command line: a list of commands, each with --help. Errors a user can cause print
// their code and message (exit 2 for usage and configuration, 1 for other failures); only internal
// faults print a stack, and only with FLEXLON_DEBUG set.
import { FlexError, asFlexError } from '../errors.ts';
import type { Command, Output } from './command.ts';
import { auditCommand } from './audit.ts';
import { backtestCommand } from './backtest.ts';
import { becknCommand } from './beckn.ts';
import { demoCommand } from './demo.ts';
import { eventsCommand } from './events.ts';
import { gridCommand } from './grid.ts';
import { offersCommand } from './offers.ts';
import { planCommand } from './plan.ts';
import { runCommand } from './run.ts';
import { settleCommand } from './settle.ts';
import { signalsCommand } from './signals.ts';

export const COMMANDS: readonly Command[] = [
  demoCommand,
  runCommand,
  planCommand,
  offersCommand,
  signalsCommand,
  eventsCommand,
  gridCommand,
  becknCommand,
  auditCommand,
  settleCommand,
  backtestCommand,
];

const usage = (): string =>
  [
    "FlexLon: turns a data centre's queued compute into grid flexibility, sold over the Beckn protocol.",
    '',
    'Usage: flexlon <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(12)} ${c.summary}`),
    '',
    "Run `flexlon <command> --help` for a command's options.",
  ].join('\n');

// Exit statuses for a stop by signal follow the shell convention 128 + signal number.
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGPIPE: 141 };

/**
 * Set when the reader of stdout went away (e.g. `| head`): stop writing and stop the command cleanly.
 * A pipe reports EPIPE; where stdout is a socket (a parent process's stdio pipe is a socket pair),
 * a reader that closed with data unread may be reported as ECONNRESET instead.
 */
let stdoutClosed = false;
let onStdoutClosed: (() => void) | undefined;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') throw e;
  stdoutClosed = true;
  onStdoutClosed?.();
});

const stdio: Output = {
  out: (l) => {
    if (!stdoutClosed) process.stdout.write(`${l}\n`);
  },
  err: (l) => process.stderr.write(`${l}\n`),
};

export const main = async (argv: readonly string[], io: Output = stdio): Promise<number> => {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`flexlon: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(command.help?.(rest) ?? command.usage);
    return 0;
  }
  const controller = new AbortController();
  let stoppedBy: string | undefined;
  const stop = (why: string) => () => {
    stoppedBy ??= why;
    controller.abort();
  };
  const onInt = stop('SIGINT');
  const onTerm = stop('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  onStdoutClosed = stop('SIGPIPE');
  const stopped = (): number => {
    if (stoppedBy !== 'SIGPIPE') io.err(`flexlon: stopped (${stoppedBy ?? 'aborted'})`);
    return SIGNAL_EXIT[stoppedBy ?? 'SIGINT'] ?? 130;
  };
  try {
    const code = await command.run(rest, io, controller.signal);
    // A command that was stopped by a signal did not finish, whatever it returned.
    return controller.signal.aborted && !(command.service && stoppedBy !== 'SIGPIPE') ? stopped() : code;
  } catch (e) {
    if ((e as Error).name === 'AbortError' || controller.signal.aborted) return stopped();
    const err = asFlexError(e);
    io.err(`flexlon ${name}: ${err.code}: ${err.message}`);
    if (err.code === 'FLX_INTERNAL' && process.env.FLEXLON_DEBUG) io.err(String((e as Error).stack));
    return e instanceof FlexError && (err.code === 'FLX_CLI_USAGE' || err.code === 'FLX_CONFIG_INVALID') ? 2 : 1;
  } finally {
    onStdoutClosed = undefined;
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
};
