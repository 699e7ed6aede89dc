import { describe, expect, it, jest } from '@jest/globals';
import type { CredentialsSource } from '../../functions/adapters/hooks/aws';
import {
  hasProbe,
  PROBED_ENGINES,
  probeCluster,
  UnsupportedProbeEngineError,
} from '../../functions/adapters/probes/index';
import { ProbeDeadlineError, ProbeRound, type ProbeTarget } from '../../functions/adapters/probes/round';
import { parseHeartbeat } from '../../functions/core/wire';
import { probeOptions } from '../support/probes';

const NOW = Date.parse('2026-11-22T23:00:01.250Z');

const options = () => probeOptions({ observerId: 'probe-a', now: () => NOW });

const REDIS: ProbeTarget = {
  clusterId: 'cache-redis',
  engine: 'redis',
  nodes: [
    { nodeId: 'r1', url: 'redis://10.0.0.1:6379' },
    { nodeId: 'r2', url: 'redis://10.0.0.2' },
    { nodeId: 'r3', url: 'redis://localhost:7001' },
  ],
};

describe('probeCluster', () => {
  it('rejects an engine without a built-in probe with a typed error naming it', async () => {
    const { options: opts } = options();

    const result = probeCluster({ clusterId: 'zk', engine: 'zookeeper', nodes: [] }, opts);

    await expect(result).rejects.toBeInstanceOf(UnsupportedProbeEngineError);
    await expect(result).rejects.toThrow(/no built-in probe for zookeeper/);
  });

  it('says which engines it probes', () => {
    expect([...PROBED_ENGINES].sort()).toEqual([
      'doris',
      'mariadb',
      'mysql',
      'postgresql',
      'redis',
      'starrocks',
    ]);
    expect(hasProbe('etcd')).toBe(false);
    expect(hasProbe('mariadb')).toBe(true);
  });

  it('reports a node whose URL does not parse as unreachable, without rejecting', async () => {
    const { options: opts, warnings } = options();
    const target: ProbeTarget = {
      clusterId: 'orders-pg',
      engine: 'postgresql',
      nodes: [{ nodeId: 'pg-1', url: 'redis://h:1' }],
    };

    const [heartbeat] = await probeCluster(target, opts);

    expect(heartbeat).toEqual({
      v: 1,
      clusterId: 'orders-pg',
      nodeId: 'pg-1',
      engine: 'postgresql',
      role: 'unknown',
      seq: 1,
      observedAt: '2026-11-22T23:00:01.250Z',
      observerId: 'probe-a',
      reachable: false,
    });
    expect(() => parseHeartbeat(heartbeat)).not.toThrow();
    expect(warnings[0]).toMatch(/pg-1 not observed: .*needs postgresql: or postgres:/);
  });

  it('reports a node whose credentials cannot be read as unreachable, and asks the source for that node', async () => {
    const { options: opts } = options();
    const credentials = jest.fn<CredentialsSource>(async () => {
      throw new Error('AccessDeniedException: not allowed to read the secret');
    });

    const heartbeats = await probeCluster(
      {
        clusterId: 'orders-db',
        engine: 'mariadb',
        nodes: [{ nodeId: 'db-1', url: 'mysql://10.0.0.9:3306' }],
      },
      { ...opts, credentials },
    );

    expect(heartbeats).toEqual([
      expect.objectContaining({ nodeId: 'db-1', reachable: false, role: 'unknown' }),
    ]);
    expect(credentials).toHaveBeenCalledWith(
      expect.objectContaining({
        clusterId: 'orders-db',
        engine: 'mariadb',
        target: { nodeId: 'db-1', url: 'mysql://10.0.0.9:3306' },
      }),
    );
  });
});

describe('ProbeRound', () => {
  it('maps a source host:port back to the configured node, with the default port and localhost', () => {
    const round = new ProbeRound(REDIS, options().options);

    expect(round.nodeIdAt('10.0.0.1', 6379, 'redis', 6379)).toBe('r1');
    expect(round.nodeIdAt('10.0.0.2', 6379, 'redis', 6379)).toBe('r2');
    expect(round.nodeIdAt('127.0.0.1', 7001, 'redis', 6379)).toBe('r3');
    expect(round.nodeIdAt('10.0.0.1', 6380, 'redis', 6379)).toBeUndefined();
    expect(round.nodeIdAt(undefined, 6379, 'redis', 6379)).toBeUndefined();
  });

  it('leaves out a position that does not fit the engine, and an empty one, saying so', () => {
    const { options: opts, warnings } = options();
    const round = new ProbeRound(REDIS, opts);

    const primary = round.observed('r1', { role: 'primary', position: '' });
    const replica = round.observed('r2', {
      role: 'replica',
      replication: { linkUp: true, appliedPosition: 'abc:12', receivedPosition: '42', lagSeconds: -0.0004 },
    });

    expect(primary.position).toBeUndefined();
    expect(replica.replication).toEqual({ linkUp: true, receivedPosition: '42', lagSeconds: 0 });
    expect(warnings.join('\n')).toMatch(/r2: appliedPosition left out: Invalid redis position "abc:12"/);
    expect(() => parseHeartbeat(primary)).not.toThrow();
    expect(() => parseHeartbeat(replica)).not.toThrow();
  });

  it('rounds lag to the millisecond', () => {
    const round = new ProbeRound(REDIS, options().options);

    const hb = round.observed('r2', { role: 'replica', replication: { linkUp: true, lagSeconds: 7.20049 } });

    expect(hb.replication?.lagSeconds).toBe(7.2);
  });
});

describe('ProbeRound.withinDeadline: one node, one hard deadline from the round start', () => {
  it('returns what the node answered in time, with its signal never aborted', async () => {
    const { options: opts } = options();
    const round = new ProbeRound(REDIS, { ...opts, deadlineMs: 1_000 });
    let signal: AbortSignal | undefined;

    const result = await round.withinDeadline(async (deadline) => {
      signal = deadline.signal;
      return 'answered';
    });

    expect(result).toBe('answered');
    expect(signal?.aborted).toBe(false);
  });

  it('abandons a node that never answers: aborts its signal and rejects with ProbeDeadlineError at the deadline', async () => {
    const { options: opts } = options();
    const round = new ProbeRound(REDIS, { ...opts, deadlineMs: 50 });
    let signal: AbortSignal | undefined;
    const started = performance.now();

    const outcome = round.withinDeadline((deadline) => {
      signal = deadline.signal;
      return new Promise<string>(() => undefined); // a frozen server: no answer, ever
    });

    await expect(outcome).rejects.toThrow(ProbeDeadlineError);
    await expect(outcome).rejects.toThrow('no answer within the probe deadline of 50 ms');
    expect(signal?.aborted).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
  });

  it('reports only the slow node unreachable through observeNode, and the others as they answered', async () => {
    const { options: opts, warnings } = options();
    const round = new ProbeRound(REDIS, { ...opts, deadlineMs: 50 });

    const [slow, fast] = await Promise.all([
      round.observeNode('r1', () => new Promise(() => undefined)),
      round.observeNode('r2', async () => round.observed('r2', { role: 'primary', position: undefined })),
    ]);

    expect(slow).toMatchObject({ nodeId: 'r1', reachable: false, role: 'unknown' });
    expect(fast).toMatchObject({ nodeId: 'r2', reachable: true, role: 'primary' });
    expect(warnings).toEqual([
      '[probe probe-a] cache-redis: node r1 not observed: no answer within the probe deadline of 50 ms (probe abandoned, connection closed)',
    ]);
  });

  it('copies a primary observation self-fencing into the heartbeat, which the wire accepts', () => {
    const { options: opts } = options();
    const round = new ProbeRound(REDIS, opts);

    const heartbeat = round.observed('r1', {
      role: 'primary',
      position: undefined,
      selfFencing: { enabled: true, detail: 'min-replicas-to-write 1, min-replicas-max-lag 10' },
    });

    expect(parseHeartbeat(heartbeat).selfFencing).toEqual({
      enabled: true,
      detail: 'min-replicas-to-write 1, min-replicas-max-lag 10',
    });
  });
});
