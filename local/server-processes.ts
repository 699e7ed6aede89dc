/**
 * Database server processes started by local mode (the demo, the detection benchmark) and by the tests:
 * each one a child process whose id we keep, in its own temporary directory, with its output in a log file
 * there. Readiness is polled, never slept for. A {@link ProcessGroup} stops every process it started by its
 * id and removes its directories. Whatever is still running when the Node process exits is killed then, and
 * a SIGINT/SIGTERM/SIGHUP that the program does not handle itself kills it all (and waits) before exiting.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
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

/** The signals that end a process from outside: Ctrl-C, `kill <pid>` or a CI cancel, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];

/** The exit code of a process ended by `signal`, as a shell reports it (128 + the signal's number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * SIGKILLs every process any {@link ProcessGroup} of this Node process started and that still runs, and
 * `children` (other child processes of ours, such as DynamoDB Local), waits until each is gone (reaped by
 * Node: no zombie left behind), and removes every directory. For a forced exit.
 */
export async function killEverything(children: readonly number[] = []): Promise<void> {
  const killChild = async (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    await waitFor(`process ${pid} to end after SIGKILL`, async () => !isAlive(pid), {
      timeoutMs: 5_000,
    }).catch(() => undefined);
  };
  await Promise.all([
    ...[...running].map((managed) => endProcess(managed, 'SIGKILL')),
    ...children.map(killChild),
  ]);
  removeDirectories();
}

/** What {@link stopOnSignals} returns. */
export interface SignalStop {
  /** Aborted by the first stop signal: the program stops what it started, cleanly, and ends. */
  readonly signal: AbortSignal;
  /** Removes the handlers (the program is done). */
  dispose(): void;
}

/**
 * Ctrl-C, `kill <pid>`, a CI cancel or a closed terminal for a program that cleans up after itself: the first
 * signal aborts {@link SignalStop.signal}; a second one does not wait for the clean stop any more: it kills
 * every process started ({@link killEverything}, with `children()`) and exits 130.
 *
 * @example
 * const stop = stopOnSignals({ what: 'the benchmark', say: console.error });
 * try { await run({ signal: stop.signal }); } finally { stop.dispose(); }
 */
export function stopOnSignals(options: {
  what: string;
  say?: (line: string) => void;
  children?: () => readonly number[];
}): SignalStop {
  const controller = new AbortController();
  let count = 0;
  const handler = (name: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      options.say?.(`${name}: stopping everything ${options.what} started… (again to kill it all at once)`);
      controller.abort();
    } else if (count === 2) {
      options.say?.(`${name} again: killing every process ${options.what} started`);
      void killEverything(options.children?.() ?? []).finally(() => process.exit(130));
    }
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const signal of STOP_SIGNALS) process.removeListener(signal, handler);
    },
  };
}

function removeDirectories(): void {
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  directories.clear();
}

/**
 * The safety net for a stop signal nobody else handles: Node's default would end this process at once and
 * leave the servers running. Kills them first, then exits as the signal would have (its 'exit' hooks run,
 * such as DynamoDB Local's). A program that handles the signal itself (the demo, `up`) is left to do so.
 */
function onStopSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  void killEverything().finally(() => process.exit(signalExitCode(signal)));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort, synchronous: the processes are signalled but cannot be waited for any more.
  process.once('exit', () => {
    for (const managed of running) {
      try {
        process.kill(managed.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    removeDirectories();
  });
  for (const signal of STOP_SIGNALS) process.on(signal, onStopSignal);
}

/** Thrown by a {@link ProcessGroup} asked to start something after it was stopped. */
export class ProcessGroupStoppedError extends Error {
  override readonly name = 'ProcessGroupStoppedError';
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
  #stopping: Promise<void> | undefined;

  /**
   * Refuses to add to a stopped group: a start still in flight when a sibling's failure stopped the group
   * would otherwise leave a process that no later stop() ends.
   */
  #refuseWhenStopped(what: string): void {
    if (this.#stopping !== undefined) {
      throw new ProcessGroupStoppedError(
        `${what} was not started: its process group was already stopped (another start failed, or stop() ran)`,
      );
    }
  }

  /** A new temporary directory, owned by `owner` when given, removed by {@link stop}. */
  dir(prefix: string, owner: RunAs | undefined): string {
    this.#refuseWhenStopped(`The directory for ${prefix}`);
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
    this.#refuseWhenStopped(name);
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
      afterExit: options.afterExit,
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

  /**
   * Stops every member and removes the directories. Safe to call twice: a second call waits for the first.
   * Nothing can be started in the group afterwards ({@link ProcessGroupStoppedError}).
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(
        [...this.#processes.values()].map((managed) => endProcess(managed, managed.stopSignal)),
      );
      for (const dir of this.#dirs) {
        rmSync(dir, { recursive: true, force: true });
        directories.delete(dir);
      }
    })();
    return this.#stopping;
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
