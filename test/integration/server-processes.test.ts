import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { Incident } from '../../functions/core/incidents';
import { redisServerCommand, startRedisTopology } from '../../local/redis-servers';
import { LocalRunbookLauncher } from '../../local/runbook-launcher';
import type { StepsPayload } from '../../local/runbook-runner';
import {
  isAlive,
  ProcessGroup,
  ProcessGroupStoppedError,
  signalExitCode,
  waitFor,
} from '../../local/server-processes';

/**
 * Cleanup of the processes local mode starts (review findings M3, M4): a failed start, a stop signal the
 * program does not handle, and a stop while a runbook is mid-way leave nothing running.
 */
const REPO_ROOT = process.cwd();
const scratch = mkdtempSync(join(tmpdir(), 'replica-sentinel-cleanup-test-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** A redis-server wrapper that records every pid it runs as; nodes whose directory matches `bad` get a bad option. */
function recordingRedisServer(name: string, bad: string): { command: string; pids: () => number[] } {
  const pidFile = join(scratch, `${name}.pids`);
  const command = join(scratch, `${name}.sh`);
  writeFileSync(
    command,
    [
      '#!/bin/sh',
      `echo $$ >> '${pidFile}'`,
      `case "$*" in *${bad}*) exec '${redisServerCommand()}' "$@" --no-such-option yes ;; esac`,
      `exec '${redisServerCommand()}' "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(command, 0o755);
  const pids = () =>
    existsSync(pidFile)
      ? readFileSync(pidFile, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
          .map(Number)
      : [];
  return { command, pids };
}

const ourDirs = (prefix: string) =>
  readdirSync(tmpdir()).filter((name) => name.startsWith(`replica-sentinel-${prefix}-`));

describe('a process group', () => {
  it('refuses to start a process or make a directory once it was stopped, and spawns nothing', async () => {
    const group = new ProcessGroup();
    const wrapper = recordingRedisServer('late-start', 'never-matches');
    await group.stop();

    expect(() => group.dir('late', undefined)).toThrow(ProcessGroupStoppedError);
    expect(() =>
      group.start('late', wrapper.command, ['--port', '0'], { dir: scratch, owner: undefined }),
    ).toThrow(/late was not started: its process group was already stopped/);
    expect(wrapper.pids()).toEqual([]);
  });
});

describe('a Redis topology that fails to start', () => {
  it('leaves no redis-server running and no directory behind when its second replica cannot start', async () => {
    const wrapper = recordingRedisServer('bad-replica', 'replica-sentinel-m3bad-3-');

    await expect(
      startRedisTopology({ replicas: 2, prefix: 'm3bad', command: wrapper.command }),
    ).rejects.toThrow(/m3bad-3 exited while waiting for m3bad-3 to answer PING/);

    // The primary, the good replica and the bad one each ran.
    expect(wrapper.pids()).toHaveLength(3);
    for (const pid of wrapper.pids()) expect({ pid, alive: isAlive(pid) }).toEqual({ pid, alive: false });
    expect(ourDirs('m3bad')).toEqual([]);
  }, 60_000);
});

describe('a program that started servers and is killed', () => {
  it.each(['SIGTERM', 'SIGHUP'] as const)(
    'on %s stops every server it started, removes their directories and exits as the signal would',
    async (signal) => {
      const prefix = `m4${signal.toLowerCase()}`;
      const script = join(scratch, `${prefix}.mts`);
      writeFileSync(
        script,
        [
          `import { startRedisTopology } from '${join(REPO_ROOT, 'local', 'redis-servers.ts')}';`,
          `const redis = await startRedisTopology({ replicas: 2, prefix: '${prefix}' });`,
          'const nodes = [redis.primary, ...redis.replicas];',
          'console.log(JSON.stringify({ pids: nodes.map((n) => n.pid), dirs: nodes.map((n) => n.dir) }));',
          // Runs until killed, as the demo or the benchmark would.
          'setInterval(() => undefined, 60_000);',
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      let output = '';
      const started = await new Promise<{ pids: number[]; dirs: string[] }>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const line = output.split('\n').find((l) => l.startsWith('{'));
          if (line !== undefined) resolve(JSON.parse(line) as { pids: number[]; dirs: string[] });
        });
        child.stderr?.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        void exit.then((code) =>
          reject(new Error(`the program exited (${code}) before it started:\n${output}`)),
        );
      });
      expect(started.pids).toHaveLength(3);
      for (const pid of started.pids) expect(isAlive(pid)).toBe(true);

      child.kill(signal);

      expect(await exit).toBe(signalExitCode(signal));
      for (const pid of started.pids) expect({ pid, alive: isAlive(pid) }).toEqual({ pid, alive: false });
      for (const dir of started.dirs)
        expect({ dir, exists: existsSync(dir) }).toEqual({ dir, exists: false });
    },
    60_000,
  );
});

describe('local mode stopping mid-runbook', () => {
  it('aborts a running runbook instead of waiting for its step to finish', async () => {
    const calls: StepsPayload[] = [];
    let release: () => void = () => undefined;
    const launcher = new LocalRunbookLauncher({
      // A step that does not return until the test lets it: a hook retrying against a server that is gone.
      steps: (payload) => {
        calls.push(payload);
        return new Promise((resolve) => {
          release = () => resolve({ ...payload.state, next: 'proceed' });
        });
      },
    });
    const incident = {
      clusterId: 'orders-redis',
      incidentId: 'inc-abort-1',
      nodeId: 'redis-1',
      role: 'primary',
      kind: 'DEAD',
      severity: 'critical',
      state: 'OPEN',
      openedAt: Date.parse('2026-11-24T07:00:00Z'),
      runbook: 'primary-failover',
    } as Incident;
    await launcher.start(incident);
    await waitFor('the runbook to run its first step', async () => calls.length > 0);

    launcher.abort();

    const [run] = await launcher.settled();
    release();
    expect(run?.status).toBe('ABORTED');
    expect(run?.states).not.toContain('TakeLock');
    expect(calls.map((call) => call.action)).toEqual(['reverify']);
  }, 120_000);
});
