import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { ClusterConfigSchema } from '../../functions/core/config/schema';
import { freePort, LOCAL_AWS } from '../../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { type HeartbeatSink, localSink, watch } from '../../local/watch';
import { type RedisTopology, redisCommand, startRedisTopology } from '../support/servers';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['bin/replica-sentinel.js', ...args], { timeout: 60_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );

describe('replica-sentinel watch against a local stack and real Redis servers', () => {
  let stack: LocalStack;
  let redis: RedisTopology;
  let dir: string;
  beforeAll(async () => {
    [stack, redis] = await Promise.all([
      startLocalStack({ port: 0, print: () => undefined, sweepIntervalMs: 1000 }),
      startRedisTopology({ replicas: 1 }),
    ]);
    dir = mkdtempSync(join(tmpdir(), 'watch-'));
  });
  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies the clusters file, probes the servers and feeds their heartbeats in; roles come from the servers', async () => {
    const [replica] = redis.replicas;
    const file = join(dir, 'clusters.yaml');
    writeFileSync(
      file,
      [
        'clusters:',
        '  - id: cache',
        '    engine: redis',
        '    mode: dry-run',
        '    nodes:',
        `      - id: r1`,
        `        url: redis://127.0.0.1:${redis.primary.port}`,
        `      - id: r2`,
        `        url: redis://127.0.0.1:${replica?.port}`,
        '',
      ].join('\n'),
    );
    const watched = await cli([
      'watch',
      '--config',
      file,
      '--rounds',
      '2',
      '--interval',
      '1s',
      '--endpoint',
      stack.url,
    ]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain('configuration applied: 1 created');
    expect(watched.stdout).toContain('watch stopped after 2 round(s), 4 heartbeats sent');

    const status = await cli(['status', '--cluster', 'cache', '--json', '--endpoint', stack.url]);
    const nodes = (JSON.parse(status.stdout) as { nodes: { nodeId: string; role: string; status: string }[] })
      .nodes;
    expect(nodes.map((n) => [n.nodeId, n.role, n.status])).toEqual([
      ['r1', 'primary', 'HEALTHY'],
      ['r2', 'replica', 'HEALTHY'],
    ]);
  });

  it('goes on probing when a round cannot be delivered: that round is lost, not the monitor', async () => {
    const [replica] = redis.replicas;
    if (replica === undefined) throw new Error('expected a replica');
    const config = ClusterConfigSchema.parse({
      clusters: [
        {
          id: 'unreachable-stack',
          engine: 'redis',
          mode: 'dry-run',
          nodes: [
            { id: 'r1', url: `redis://127.0.0.1:${redis.primary.port}` },
            { id: 'r2', url: `redis://127.0.0.1:${replica.port}` },
          ],
        },
      ],
    });
    // The first round goes to a port nothing listens on (the stack restarting, a dropped connection): the
    // real fetch fails. The next rounds reach the stack.
    const gone = localSink(`http://127.0.0.1:${await freePort()}`);
    const up = localSink(stack.url);
    let sends = 0;
    const sink: HeartbeatSink = { send: (heartbeats) => (++sends === 1 ? gone : up).send(heartbeats) };
    const lines: string[] = [];
    const client = documentClient({ ...LOCAL_AWS, endpoint: stack.dynamodbEndpoint });
    try {
      const result = await watch({
        config,
        client,
        tableName: stack.tableName,
        sink,
        intervalMs: 1000,
        rounds: 3,
        print: (line) => lines.push(line),
      });
      expect(result).toEqual({ rounds: 3, heartbeats: 4 });
    } finally {
      client.destroy();
    }
    expect(lines.filter((line) => line.includes('not delivered'))).toEqual([
      expect.stringMatching(
        /^\[watch\] unreachable-stack: 2 heartbeat\(s\) not delivered \(fetch failed: .*ECONNREFUSED.*\); probing again next round$/,
      ),
    ]);
  });

  it('prints a warning naming a node that refuses the login, sends no heartbeat for it and goes on', async () => {
    const [replica] = redis.replicas;
    if (replica === undefined) throw new Error('expected a replica');
    await redisCommand(replica, ['CONFIG', 'SET', 'requirepass', 'replica-pass-5e2d']);
    const file = join(dir, 'locked.yaml');
    writeFileSync(
      file,
      [
        'clusters:',
        '  - id: locked',
        '    engine: redis',
        '    mode: dry-run',
        '    nodes:',
        `      - id: r1`,
        `        url: redis://127.0.0.1:${redis.primary.port}`,
        `      - id: r2`,
        `        url: redis://:wrong-pass-0a7b@127.0.0.1:${replica.port}`,
        '',
      ].join('\n'),
    );

    const watched = await cli([
      'watch',
      '--config',
      file,
      '--rounds',
      '2',
      '--interval',
      '1s',
      '--endpoint',
      stack.url,
    ]);

    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(
      /\[watch\] .*locked: node r2 answered but refused the probe \(authentication\): WRONGPASS/,
    );
    expect(watched.stdout).not.toContain('wrong-pass-0a7b');
    expect(watched.stdout).toContain('watch stopped after 2 round(s), 2 heartbeats sent');
    const status = await cli(['status', '--cluster', 'locked', '--json', '--endpoint', stack.url]);
    const nodes = (JSON.parse(status.stdout) as { nodes: { nodeId: string; status: string }[] }).nodes;
    expect(nodes.map((n) => n.nodeId)).toEqual(['r1']);
  });

  it('refuses an interval whose rounds a cluster heartbeatTimeoutSeconds cannot honor, and exits 2', async () => {
    const file = join(dir, 'slow.yaml');
    writeFileSync(
      file,
      [
        'clusters:',
        '  - id: slow',
        '    engine: redis',
        '    mode: dry-run',
        '    policy: { heartbeatTimeoutSeconds: 20 }',
        '    nodes:',
        '      - id: r1',
        '        url: redis://127.0.0.1:1',
        '      - id: r2',
        '        url: redis://127.0.0.1:2',
        '',
      ].join('\n'),
    );
    const result = await cli(['watch', '--config', file, '--interval', '15s', '--endpoint', stack.url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'replica-sentinel: --interval 15s is too slow for cluster slow: heartbeatTimeoutSeconds (20) must be ' +
        "greater than the probe interval plus the probe deadline (15 + 5 = 20 s): a healthy node's probe " +
        'heartbeats can be that far apart, so a shorter timeout marks it SILENT\n',
    );
  });

  it('names the line, column and field of a broken clusters file, and exits 2', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(
      file,
      [
        'clusters:',
        '  - id: cache',
        '    engine: redis',
        // Not auto: no fencing warning before the error.
        '    mode: dry-run',
        '    nodes:',
        '      - id: r1',
        '        url: postgresql://127.0.0.1:1/x',
        '      - id: r2',
        '        url: redis://127.0.0.1:2',
        '',
      ].join('\n'),
    );
    const result = await cli(['watch', '--config', file, '--rounds', '1', '--endpoint', stack.url]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `^replica-sentinel: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:7:14: clusters\\[0\\]\\.nodes\\[0\\]\\.url: `,
      ),
    );
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
