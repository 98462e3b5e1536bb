// Runs the Slurm client commands (squeue, scontrol, sbatch, scancel, srun) and nvidia-smi with a deadline, and turns
// their failures into clear, coded errors. Every command gets the same environment (SLURM_CONF,
// TZ=UTC), so the adapter never depends on the agent's shell.
import { spawn } from 'node:child_process';
import { FlexError } from '../../errors.ts';
import type { ResolvedSlurmConfig, SlurmCommand } from './config.ts';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Messages Slurm prints when it cannot reach its controller (22.05: slurm_load_jobs / slurm_*_job errors). */
const UNREACHABLE =
  /Unable to contact slurm controller|Socket timed out|Connection refused|Zero Bytes were transmitted|Unexpected message received|Communication connection failure/i;

export const isUnreachable = (stderr: string): boolean => UNREACHABLE.test(stderr);

export class SlurmCommands {
  constructor(private readonly cfg: ResolvedSlurmConfig) {}

  /** Runs a command; non-zero exits are returned, not thrown. Throws FLX_SCHEDULER_UNAVAILABLE if it cannot run or times out. */
  run(name: SlurmCommand, args: readonly string[], input?: string): Promise<CommandResult> {
    return this.exec(this.cfg.bin(name), name, args, input);
  }

  /** Runs any program (`name` is how messages call it) as `run` does: same environment, same deadline. */
  exec(file: string, name: string, args: readonly string[], input?: string): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { env: { ...process.env, ...this.cfg.env }, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let settled = false;
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        f();
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(() =>
          reject(
            new FlexError(
              'FLX_SCHEDULER_UNAVAILABLE',
              `${name} did not answer within ${this.cfg.timeoutMs} ms: is slurmctld running and reachable${this.cfg.env.SLURM_CONF ? ` (SLURM_CONF=${this.cfg.env.SLURM_CONF})` : ''}?`,
            ),
          ),
        );
      }, this.cfg.timeoutMs);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e: NodeJS.ErrnoException) =>
        finish(() =>
          reject(
            new FlexError(
              'FLX_SCHEDULER_UNAVAILABLE',
              e.code === 'ENOENT'
                ? `${file} not found: install ${name === 'nvidia-smi' ? "the NVIDIA driver utilities or set the adapter's powerCaps.nvidiaSmi" : "the Slurm client (Debian: slurm-client) or set the adapter's binDir"}`
                : `${file} could not be run: ${e.message}`,
              { cause: e },
            ),
          ),
        ),
      );
      child.on('close', (code) =>
        finish(() =>
          resolve({
            code: code ?? 1,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(err).toString('utf8').trim(),
          }),
        ),
      );
      child.stdin.on('error', () => undefined);
      child.stdin.end(input ?? '');
    });
  }

  /** Runs a command that must succeed; an unreachable controller or any refusal is thrown with Slurm's own words. */
  async must(name: SlurmCommand, args: readonly string[], input?: string): Promise<string> {
    const r = await this.run(name, args, input);
    if (r.code === 0) return r.stdout;
    if (isUnreachable(r.stderr)) throw new FlexError('FLX_SCHEDULER_UNAVAILABLE', `${name}: ${r.stderr}`);
    throw new FlexError(
      'FLX_SCHEDULER_COMMAND',
      `${name} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr || '(no message)'}`,
    );
  }
}
