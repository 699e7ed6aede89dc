import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { DemoSummary } from '../../local/redis-demo';
import { isAlive } from '../../local/server-processes';

/**
 * `replica-sentinel demo` as a user runs it: a child process of the CLI, against real redis-server
 * processes and DynamoDB Local that it starts and must stop by itself.
 */
const run = promisify(execFile);
const REPO_ROOT = process.cwd();
const BIN = join(REPO_ROOT, 'bin', 'replica-sentinel.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('replica-sentinel demo on real Redis servers', () => {
  it('catches the stall, fails the primary over to a replica confirmed by the servers, and leaves no process behind', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'demo', '--json'], {
      cwd: REPO_ROOT,
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const summary = JSON.parse(stdout) as DemoSummary;

    expect(summary.simulated).toBe(false);
    expect(summary.ok).toBe(true);
    const stalled = summary.incidents.find((i) => i.kind === 'STALLED');
    const dead = summary.incidents.find((i) => i.kind === 'DEAD');
    expect(stalled).toMatchObject({ role: 'replica', runbook: 'replica-recovery' });
    expect(dead).toMatchObject({ role: 'primary', runbook: 'primary-failover' });
    expect(dead?.steps).toEqual(expect.arrayContaining(['fenced', 'promoted', 'repointed', 'completed']));
    const redisNodes = summary.processes.map((p) => p.name).filter((name) => name !== 'dynamodb-local');
    expect(redisNodes).toHaveLength(3);
    // The promoted node is one of the two replicas: not the dead primary, and the one the runbook chose.
    expect(redisNodes).toContain(summary.promotedNode);
    expect(summary.promotedNode).not.toBe(dead?.nodeId);
    expect(summary.promotedNode).toBe(dead?.candidate);

    expect(summary.stallDetectedAfterMs).toBeGreaterThan(0);
    expect(summary.deadDetectedAfterMs).toBeGreaterThan(0);
    // The failover is confirmed on the servers after the pipeline declared the primary DEAD.
    expect(summary.failoverCompletedAfterMs).toBeGreaterThan(summary.deadDetectedAfterMs ?? Infinity);
    const at = (kind: string, text: RegExp) =>
      summary.timeline.find((e) => e.kind === kind && text.test(e.text))?.atMs ?? Number.NaN;
    const paused = at('action', /CLIENT PAUSE/);
    const stalledAt = at('transition', new RegExp(`^${stalled?.nodeId} .*→ STALLED`));
    const killed = at('action', /SIGKILL/);
    const deadAt = at('transition', new RegExp(`^${dead?.nodeId} .*→ DEAD`));
    const confirmed = at('check', /role:master/);
    expect([paused, stalledAt, killed, deadAt, confirmed]).toEqual(
      [paused, stalledAt, killed, deadAt, confirmed].sort((a, b) => a - b),
    );

    for (const { name, pid } of summary.processes)
      expect({ name, alive: isAlive(pid) }).toEqual({ name, alive: false });
  }, 180_000);

  it('exits 1 with the reason when it cannot show the failover in time, and still stops everything', async () => {
    // 3 s cannot hold both: the stall alone needs stallAfterSeconds (3 s) without progress, then the kill.
    const failure = await run(process.execPath, [BIN, 'demo', '--json', '--timeout', '3s'], {
      cwd: REPO_ROOT,
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    }).then(
      () => undefined,
      (error: { code?: number; stdout: string; stderr: string }) => error,
    );

    expect(failure?.code).toBe(1);
    const summary = JSON.parse(failure?.stdout ?? '') as DemoSummary;
    expect(summary).toMatchObject({ simulated: false, ok: false, promotedNode: null });
    expect(summary.reason).toMatch(/^Timed out waiting for /);
    expect(failure?.stderr).toContain(`demo failed: ${summary.reason}`);
    expect(summary.processes).toHaveLength(4);
    for (const { name, pid } of summary.processes)
      expect({ name, alive: isAlive(pid) }).toEqual({ name, alive: false });
  }, 180_000);

  it('stops every process it started on SIGINT (Ctrl-C) and exits 130', async () => {
    const demo = startDemo();
    // Mid-run: once all four processes are up and the replica has been paused.
    await demo.seen(/CLIENT PAUSE/);
    expect(demo.pids.size).toBe(4);
    for (const pid of demo.pids) expect(isAlive(pid)).toBe(true);

    demo.child.kill('SIGINT');

    expect(await demo.exit).toBe(130);
    for (const pid of demo.pids) expect({ pid, alive: isAlive(pid) }).toEqual({ pid, alive: false });
  }, 180_000);

  it('on a second SIGINT kills every process it started at once, without waiting for the clean stop, and exits 130', async () => {
    const demo = startDemo();
    await demo.seen(/DynamoDB Local pid \d+/);
    expect(demo.pids.size).toBe(4);

    demo.child.kill('SIGINT');
    await demo.seen(/SIGINT: stopping everything the demo started/);
    demo.child.kill('SIGINT');

    expect(await demo.exit).toBe(130);
    expect(demo.output()).toContain('SIGINT again: killing every process the demo started');
    // The clean stop did not get to its end (it prints the summary last).
    expect(demo.output()).not.toContain('FAILED: interrupted');
    for (const pid of demo.pids) expect({ pid, alive: isAlive(pid) }).toEqual({ pid, alive: false });
  }, 180_000);
});

/** `replica-sentinel demo` as a child process: its output, the pids it prints, and a wait for a line. */
function startDemo() {
  const child = spawn(process.execPath, [BIN, 'demo'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let output = '';
  const pids = new Set<number>();
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const match of output.matchAll(/pid (\d+)/g)) pids.add(Number(match[1]));
  });
  const seen = (text: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (text.test(output)) resolve();
      };
      child.stdout?.on('data', check);
      check();
      void exit.then((code) => reject(new Error(`the demo exited (${code}) before ${text}:\n${output}`)));
    });
  return { child, exit, pids, seen, output: () => output };
}

describe('replica-sentinel demo without redis-server', () => {
  it('says how to install redis-server and runs the SIMULATED demo, labelled as such', async () => {
    // A PATH with node and java (DynamoDB Local) but no redis-server.
    const bin = mkdtempSync(join(tmpdir(), 'replica-sentinel-no-redis-'));
    dirs.push(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync(
      execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim(),
      join(bin, 'java'),
    );

    const { stdout, stderr } = await run(process.execPath, [BIN, 'demo', '--json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PATH: bin },
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    expect(stderr).toContain('apt-get install -y redis-server');
    expect(stderr).toContain('brew install redis');
    expect(stderr).toContain('SIMULATED');
    const summary = JSON.parse(stdout) as {
      simulated: boolean;
      promotedNode: string | null;
      stallDetectedAfterMs: number;
      recoveredAfterMs: number;
      deadDetectedAfterMs: number;
      notifications: string[];
      nodes: { clusterId: string; nodeId: string; role: string; status: string }[];
    };
    expect(summary.simulated).toBe(true);
    // Nothing real is failed over: the simulated cluster runs in dry-run mode.
    expect(summary.promotedNode).toBeNull();
    // Virtual time: the stall is caught one stallAfter (60 s) after the last progress, 10 s before the pause.
    expect(summary.stallDetectedAfterMs).toBe(50_000);
    // Three good heartbeats (healthyStreak) after the replay resumed: +10 s, +20 s.
    expect(summary.recoveredAfterMs).toBe(20_000);
    // The heartbeat timeout (30 s) after the primary's last report, found by the next sweep.
    expect(summary.deadDetectedAfterMs).toBe(20_000);
    expect(summary.notifications).toEqual([
      ':rotating_light: STALLED: orders-pg/pg-3 (replica) — incident opened',
      ':gear: replica-recovery dry-run: orders-pg/pg-3',
      ':white_check_mark: Resolved: orders-pg/pg-3 is HEALTHY again',
      ':fire: DEAD: orders-pg/pg-1 (primary) — incident opened',
      ':gear: primary-failover dry-run: orders-pg/pg-1',
    ]);
    expect(summary.nodes.map((n) => [n.nodeId, n.role, n.status])).toEqual([
      ['pg-1', 'primary', 'DEAD'],
      ['pg-2', 'replica', 'STALLED'],
      ['pg-3', 'replica', 'STALLED'],
    ]);
  }, 180_000);
});
