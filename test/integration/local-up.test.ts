import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort } from '../../local/dynamodb-local';

const run = promisify(execFile);
const javaProcesses = async () => {
  const { stdout } = await run('pgrep', ['-f', 'DynamoDBLocal.jar']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).length;
};

/** `replica-sentinel local up` as a user starts it, in the foreground. */
async function localUp(port: number): Promise<{ child: ChildProcess; output: string[] }> {
  const child = spawn(
    process.execPath,
    ['bin/replica-sentinel.js', 'local', 'up', '--port', String(port), '--sweep-interval', '1s'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) =>
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean)),
  );
  child.stderr?.on('data', (chunk: Buffer) =>
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean)),
  );
  const deadline = Date.now() + 60_000;
  while (!output.some((line) => line.includes('ready'))) {
    if (child.exitCode !== null) throw new Error(`local up exited: ${output.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`local up never said ready: ${output.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output };
}

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('replica-sentinel local up', () => {
  let stack: { child: ChildProcess; output: string[] } | undefined;
  afterAll(async () => {
    if (stack && stack.child.exitCode === null) stack.child.kill('SIGKILL');
  });

  it('accepts heartbeats over HTTP, detects a silent node, notifies, answers status, and stops cleanly', async () => {
    const javaBefore = await javaProcesses();
    const port = await freePort();
    stack = await localUp(port);
    const base = `http://127.0.0.1:${port}`;
    expect(stack.output.find((l) => l.includes('ready'))).toMatch(
      /^replica-sentinel local stack ready on http:\/\/127\.0\.0\.1:\d+ /,
    );

    // A replica whose last report is already 40 s old: past the 30 s timeout, so the next sweep finds it.
    const old = new Date(Date.now() - 40_000).toISOString();
    const post = (body: string) =>
      fetch(`${base}/heartbeats`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const accepted = await post(
      JSON.stringify([
        {
          v: 1,
          clusterId: 'lab',
          nodeId: 'r1',
          engine: 'redis',
          role: 'primary',
          seq: 1,
          observedAt: new Date().toISOString(),
          position: '100',
        },
        {
          v: 1,
          clusterId: 'lab',
          nodeId: 'r2',
          engine: 'redis',
          role: 'replica',
          seq: 1,
          observedAt: old,
          replication: { sourceNodeId: 'r1', linkUp: true, appliedPosition: '100' },
        },
      ]),
    );
    expect(await accepted.json()).toEqual({ accepted: 2, quarantined: [], failures: 0 });
    const broken = await post('{"v":1,"clusterId":"lab"');
    expect(await broken.json()).toMatchObject({
      accepted: 1,
      quarantined: [expect.stringMatching(/^heartbeat is not valid JSON/)],
    });

    await until(
      'the silent replica to be noticed and announced',
      () => stack?.output.some((l) => l.includes('[alert]') && l.includes('SILENT: lab/r2')) === true,
    );
    const status = await run(process.execPath, [
      'bin/replica-sentinel.js',
      'status',
      '--cluster',
      'lab',
      '--json',
      '--endpoint',
      base,
    ]);
    const nodes = (
      JSON.parse(status.stdout) as {
        nodes: { nodeId: string; role: string; status: string; clusterId: string }[];
      }
    ).nodes;
    expect(nodes.map((n) => [n.clusterId, n.nodeId, n.role, n.status])).toEqual([
      ['lab', 'r1', 'primary', 'HEALTHY'],
      ['lab', 'r2', 'replica', 'SILENT'],
    ]);
    const table = await run(process.execPath, ['bin/replica-sentinel.js', 'status', '--endpoint', base]);
    expect(table.stdout.split('\n').slice(0, 2)).toEqual([
      expect.stringMatching(
        /^cluster lab {2}mode auto {2}epoch 0 {2}primary r1 \(not recorded yet\) {2}lock free {2}/,
      ),
      '  no cluster item: known from its nodes only (apply a configuration)',
    ]);
    expect(table.stdout).toMatch(/^ {2}NODE\s+ROLE\s+STATUS\s+SINCE\s+LAG\s+AT RISK\s+APPLIED\s+HEARTBEAT$/m);
    expect(table.stdout).toMatch(/^ {2}└─ r2\s+replica\s+SILENT\s/m);
    expect(table.stdout).not.toContain('\u001b['); // plain when piped

    const unknown = await run(process.execPath, [
      'bin/replica-sentinel.js',
      'status',
      '--cluster',
      'nope',
      '--endpoint',
      base,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(unknown).toMatchObject({
      code: 2,
      stderr: "replica-sentinel: unknown cluster 'nope': no node has reported for it\n",
    });

    const exited = new Promise<number | null>((resolve) =>
      stack?.child.once('exit', (code) => resolve(code)),
    );
    stack.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until('its DynamoDB Local to be gone', async () => (await javaProcesses()) === javaBefore, 15_000);
  });
});
