/**
 * Database server processes started by local mode (the demo, the detection benchmark) and by the tests:
 * each one a child process whose id we keep, in its own temporary directory, with its output in a log file
 * there. Readiness is polled, never slept for. A {@link ProcessGroup} stops every process it started by its
 * id and removes its directories; whatever is still running when the Node process exits is killed then.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { NodeEndpoint } from '../functions/core/hooks';

/** Every server listens on loopback only. */
export const LOOPBACK = '127.0.0.1';

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  readonly log: string;
  /** Signal of a clean and quick stop (PostgreSQL: SIGQUIT, immediate shutdown). */
  readonly stopSignal: NodeJS.Signals;
  /** Cleanup after the process is gone (PostgreSQL: its SysV segment when it was SIGKILLed). */
  readonly afterExit?: () => void;
}

/** One database server of a topology. */
export interface ServerNode {
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  /** The hook endpoint: `redis://127.0.0.1:P`, `postgresql://postgres@127.0.0.1:P/postgres`, `mysql://root@127.0.0.1:P`. */
  readonly endpoint: NodeEndpoint;
  readonly pid: number;
  /** The node's temporary directory (data, socket, log). */
  readonly dir: string;
}

/** What every topology of servers can do. */
export interface Topology {
  /** SIGKILLs one node (a crash: no shutdown, no cleanup) and waits until the process is gone. */
  kill(node: ServerNode): Promise<void>;
  /** Stops every node of the topology and removes its directories. Safe to call twice. */
  stop(): Promise<void>;
}

/** The OS user a server runs as when we are root (PostgreSQL and MariaDB refuse to run as root). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

const running = new Set<ManagedProcess>();
const directories = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const managed of running) {
      try {
        process.kill(managed.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  });
}

/** `user`'s ids when this process runs as root, else undefined (run as ourselves). */
export function runAs(user: string): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** The full path of `name` in the directories of `path` (a PATH value), or undefined. */
export function commandOnPath(name: string, path: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The first of `names` found in /usr/sbin, /usr/bin or PATH; throws naming the Debian package otherwise. */
export function findCommand(names: readonly string[], debianPackage: string): string {
  for (const name of names) {
    const found = commandOnPath(name, ['/usr/sbin', '/usr/bin', process.env.PATH ?? ''].join(delimiter));
    if (found !== undefined) return found;
  }
  throw new Error(`None of ${names.join(', ')} found: install the Debian package ${debianPackage}.`);
}

export function exited(managed: ManagedProcess): boolean {
  return managed.child.exitCode !== null || managed.child.signalCode !== null;
}

/** Whether a process with this id exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Ends a process with `signal`, SIGKILL after `graceMs`; resolves once it is gone. */
export async function endProcess(
  managed: ManagedProcess,
  signal: NodeJS.Signals,
  graceMs = 5_000,
): Promise<void> {
  if (!exited(managed)) {
    const gone = new Promise<void>((resolve) => managed.child.once('exit', () => resolve()));
    managed.child.kill(signal);
    const timer = setTimeout(() => managed.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
  managed.afterExit?.();
}

/** Polls `probe` until it returns true; fails with the last error, and at once when `process` died. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; process?: ManagedProcess; signal?: AbortSignal } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    options.signal?.throwIfAborted();
    if (options.process !== undefined && exited(options.process)) {
      const log = existsSync(options.process.log)
        ? readFileSync(options.process.log, 'utf8').slice(-2000)
        : '';
      throw new Error(`${options.process.name} exited while waiting for ${what}:\n${log}`);
    }
    try {
      if (await probe()) return;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/**
 * The processes and directories of one topology, registered the moment they exist so that a failure half
 * way through a start still stops everything started so far.
 */
export class ProcessGroup {
  readonly #processes = new Map<number, ManagedProcess>();
  readonly #dirs = new Set<string>();
  #stopped = false;

  /** A new temporary directory, owned by `owner` when given, removed by {@link stop}. */
  dir(prefix: string, owner: RunAs | undefined): string {
    installExitHook();
    const dir = mkdtempSync(join(tmpdir(), `replica-sentinel-${prefix}-`));
    directories.add(dir);
    this.#dirs.add(dir);
    if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
    return dir;
  }

  /** Starts `command` as a member of this group, its output appended to `<dir>/<name>.log`. */
  start(
    name: string,
    command: string,
    args: readonly string[],
    options: {
      dir: string;
      owner: RunAs | undefined;
      env?: Record<string, string>;
      stopSignal?: NodeJS.Signals;
      afterExit?: () => void;
    },
  ): ManagedProcess {
    installExitHook();
    const log = join(options.dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(command, args, {
      cwd: options.dir,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, HOME: options.dir, LC_ALL: 'C', ...options.env },
      ...(options.owner ?? {}),
    });
    closeSync(fd);
    // A missing binary is reported as an 'error' event; without a listener it would crash the process.
    child.once('error', () => undefined);
    if (child.pid === undefined) throw new Error(`${name}: ${command} did not start (is it installed?)`);
    const managed: ManagedProcess = {
      child,
      pid: child.pid,
      name,
      log,
      stopSignal: options.stopSignal ?? 'SIGTERM',
      ...(options.afterExit === undefined ? {} : { afterExit: options.afterExit }),
    };
    running.add(managed);
    child.once('exit', () => running.delete(managed));
    this.#processes.set(managed.pid, managed);
    return managed;
  }

  /** The process of this group with this id. */
  member(pid: number): ManagedProcess | undefined {
    return this.#processes.get(pid);
  }

  /** SIGKILLs one member (a crash: no shutdown, no cleanup) and waits until the process is gone. */
  async kill(pid: number): Promise<void> {
    const managed = this.#processes.get(pid);
    if (managed === undefined) throw new Error(`Process ${pid} is not part of this group`);
    await endProcess(managed, 'SIGKILL');
  }

  /** Stops every member and removes the directories. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(
      [...this.#processes.values()].map((managed) => endProcess(managed, managed.stopSignal)),
    );
    for (const dir of this.#dirs) {
      rmSync(dir, { recursive: true, force: true });
      directories.delete(dir);
    }
  }

  /** The {@link Topology} methods on this group, bound, to spread into a result. */
  topology(): Topology {
    return { kill: (node) => this.kill(node.pid), stop: () => this.stop() };
  }

  /** Runs `start`; when it fails, stops whatever it started and rethrows. */
  async starting<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }
}
