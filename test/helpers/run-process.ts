// `flexlon run <role> --config FILE` as a real child process, for end-to-end tests: started, awaited
// until it prints its "ready" line, stopped with a signal; its output is kept for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { projectRoot } from './shared.ts';

// Ports a test takes now and binds later (each side of a market must know the other's URL first).
// Taken below the kernel's ephemeral range (32768–60999 on Linux), so no outgoing connection of any
// process can be handed one in between: with ports the kernel chose (listen on 0), a loopback client
// elsewhere could take the port just released, and the later bind failed (listen: the port is in
// use; CI failed once on it). Each test process walks its own block, chosen by its pid, and checks
// that a port is free by binding it.
const PORT_BASE = 20_000;
const PORT_BLOCK = 30;
const PORT_BLOCKS = 400;
let portsTaken = 0;

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

export const freePort = async (): Promise<number> => {
  const first = (process.pid % PORT_BLOCKS) * PORT_BLOCK;
  for (let tries = 0; tries < PORT_BLOCKS * PORT_BLOCK; tries++) {
    const port = PORT_BASE + ((first + portsTaken++) % (PORT_BLOCKS * PORT_BLOCK));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${PORT_BASE}–${PORT_BASE + PORT_BLOCKS * PORT_BLOCK - 1}`);
};

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RoleChild {
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly readyAt: number;
  readonly exited: Promise<Exit>;
  /** Everything printed so far (stdout; stderr keeps its last 16 kB). */
  readonly out: () => string;
  readonly err: () => string;
}

const start = (role: string, configFile: string, env: NodeJS.ProcessEnv) => {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'flexlon.js'), 'run', role, '--config', configFile], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const text = { out: '', err: '' };
  child.stdout?.on('data', (c: Buffer) => {
    text.out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    text.err = (text.err + c.toString()).slice(-16_000);
  });
  // 'close', not 'exit': by then stdout and stderr have been read to the end.
  const exited = new Promise<Exit>((r) => child.on('close', (code, signal) => r({ code, signal })));
  return { child, text, exited };
};

/** Starts a role and resolves once it printed "ready" (rejects with its stderr if it exits first). */
export const spawnRole = (role: string, configFile: string, env: NodeJS.ProcessEnv = {}): Promise<RoleChild> =>
  new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const { child, text, exited } = start(role, configFile, env);
    let ready = false;
    child.stdout?.on('data', () => {
      if (!ready && text.out.includes(': ready')) {
        ready = true;
        resolve({ child, startedAt, readyAt: Date.now(), exited, out: () => text.out, err: () => text.err });
      }
    });
    void exited.then(({ code, signal }) => {
      if (!ready) reject(new Error(`flexlon run ${role} exited (${code ?? signal}) before it was ready:\n${text.err}`));
    });
  });

/** Runs a role that is expected to exit by itself (a refused config): its status and output. */
export const runRoleToExit = async (
  role: string,
  configFile: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Exit & { out: string; err: string }> => {
  const { text, exited } = start(role, configFile, env);
  const exit = await exited;
  return { ...exit, out: text.out, err: text.err };
};

/** SIGTERM, then the exit status and stdout; SIGKILL if it has not stopped within `ms`. */
export const stopRole = async (r: RoleChild, ms = 20_000): Promise<Exit & { out: string }> => {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return { ...(await r.exited), out: r.out() };
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), ms);
  const exit = await r.exited;
  clearTimeout(timer);
  return { ...exit, out: r.out() };
};
