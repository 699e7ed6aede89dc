import { describe, expect, it } from '@jest/globals';
import { chooseCandidate, type NodeFailoverConfig } from '../../functions/core/candidate';
import type { DataAtRisk } from '../../functions/core/data-at-risk';
import type { NodeState } from '../../functions/core/node-state';
import { DEFAULT_POLICY, type Policy, resolvePolicy } from '../../functions/core/policy';
import type { Engine } from '../../functions/core/position';
import { lsn, T0 } from '../support/heartbeats';

const NOW = T0 + 60_000;

function node(nodeId: string, overrides: Partial<NodeState> = {}): NodeState {
  return {
    clusterId: 'orders-pg',
    nodeId,
    engine: 'postgresql',
    role: 'replica',
    status: 'STALLED',
    statusSince: T0,
    statusReason: 'link down',
    seq: 9,
    lastHeartbeatAt: NOW - 5000,
    lastProgressAt: T0,
    healthyStreak: 0,
    observers: {},
    deadlineAt: NOW + 25_000,
    sweepShard: 'SHARD#00',
    version: 3,
    ...overrides,
  };
}

const dead = node('pg-1', { role: 'primary', status: 'DEAD', position: lsn(10_000), lastHeartbeatAt: T0 });
const choose = (
  nodes: NodeState[],
  config: Record<string, NodeFailoverConfig> = {},
  policy = DEFAULT_POLICY,
  primary = dead,
) => chooseCandidate([primary, ...nodes], 'pg-1', new Map(Object.entries(config)), policy, NOW);

describe('chooseCandidate', () => {
  it('promotes the most advanced replica, explains why the others were not chosen, and states the data at risk', () => {
    const choice = choose([
      node('pg-2', { appliedPosition: lsn(9000) }),
      node('pg-3', { appliedPosition: lsn(9900) }),
      node('pg-4', { appliedPosition: lsn(9500), lagSeconds: 2 }),
    ]);
    const behindPrimary = (bytes: number) =>
      `${bytes} bytes of WAL behind pg-1's last known position ${lsn(10_000)}`;
    expect(choice).toEqual({
      candidate: 'pg-3',
      ranking: ['pg-3', 'pg-4', 'pg-2'],
      rejected: [
        { nodeId: 'pg-2', reason: `applied position ${lsn(9000)} is behind pg-3's ${lsn(9900)}` },
        { nodeId: 'pg-4', reason: `applied position ${lsn(9500)} is behind pg-3's ${lsn(9900)}` },
      ],
      reason: `promote pg-3: the most advanced eligible replica at ${lsn(9900)}`,
      atRisk: [
        { nodeId: 'pg-2', bytes: 1000, measurable: true, text: behindPrimary(1000) },
        { nodeId: 'pg-3', bytes: 100, measurable: true, text: behindPrimary(100) },
        {
          nodeId: 'pg-4',
          bytes: 500,
          seconds: 2,
          measurable: true,
          text: `${behindPrimary(500)}; last reported lag 2s`,
        },
      ],
      dataAtRisk: `data at risk if pg-3 is promoted: ${behindPrimary(100)}`,
    });
  });

  it.each([
    [
      'priority decides between equally advanced replicas',
      { 'pg-2': { priority: 10 }, 'pg-3': { priority: 100 } },
      'pg-3',
    ],
    [
      'the higher priority wins even when listed first',
      { 'pg-2': { priority: 100 }, 'pg-3': { priority: 10 } },
      'pg-2',
    ],
    ['the node id breaks a complete tie', {}, 'pg-2'],
  ])('%s', (_name, config, expected) => {
    const choice = choose(
      [node('pg-3', { appliedPosition: lsn(9000) }), node('pg-2', { appliedPosition: lsn(9000) })],
      config,
    );
    expect(choice.candidate).toBe(expected);
  });

  it('prefers the most advanced replica over a higher priority', () => {
    const choice = choose(
      [node('pg-2', { appliedPosition: lsn(9000) }), node('pg-3', { appliedPosition: lsn(9001) })],
      { 'pg-2': { priority: 1000 } },
    );
    expect(choice.candidate).toBe('pg-3');
  });

  it.each<[string, Partial<NodeState>, Record<string, NodeFailoverConfig>, string]>([
    ['marked noPromote', { appliedPosition: lsn(9999) }, { 'pg-2': { noPromote: true } }, 'marked noPromote'],
    ['SILENT', { appliedPosition: lsn(9999), status: 'SILENT' }, {}, 'is SILENT'],
    ['in MAINTENANCE', { appliedPosition: lsn(9999), status: 'MAINTENANCE' }, {}, 'is MAINTENANCE'],
    ['FENCED', { appliedPosition: lsn(9999), status: 'FENCED' }, {}, 'is FENCED'],
    [
      'quiet for longer than the timeout',
      { appliedPosition: lsn(9999), lastHeartbeatAt: NOW - 31_000 },
      {},
      'last reported 31s ago',
    ],
    ['without an applied position', {}, {}, 'reports no applied position'],
    ['a primary itself', { role: 'primary', position: lsn(9999) }, {}, 'reports as a primary itself'],
  ])('never promotes a replica %s, and says so', (_name, overrides, config, reason) => {
    const choice = choose([node('pg-2', overrides)], config);
    expect(choice.candidate).toBeUndefined();
    expect(choice.dataAtRisk).toBeUndefined();
    expect(choice.rejected).toEqual([{ nodeId: 'pg-2', reason }]);
    expect(choice.reason).toBe(`no eligible replica: pg-2 ${reason}`);
  });

  it('never promotes a replica lagging beyond maxLagOnFailover, accepts one exactly at it, names the unit, and honours an override', () => {
    const far = node('pg-1', {
      role: 'primary',
      status: 'DEAD',
      position: lsn(2_000_000),
      lastHeartbeatAt: T0,
    });
    const pick = (applied: number) =>
      chooseCandidate(
        [far, node('pg-2', { appliedPosition: lsn(applied) })],
        'pg-1',
        new Map(),
        DEFAULT_POLICY,
        NOW,
      );
    expect(pick(2_000_000 - 1_048_577)).toMatchObject({
      rejected: [
        {
          nodeId: 'pg-2',
          reason: `1048577 bytes of WAL behind pg-1's last known position ${lsn(2_000_000)}: more than maxLagOnFailover (1048576 bytes of WAL)`,
        },
      ],
    });
    expect(pick(2_000_000 - 1_048_577).candidate).toBeUndefined();
    expect(pick(2_000_000 - 1_048_576).candidate).toBe('pg-2');
    const strict = resolvePolicy({ maxLagOnFailover: 100 });
    expect(choose([node('pg-2', { appliedPosition: lsn(9_800) })], {}, strict).candidate).toBeUndefined();
    expect(choose([node('pg-2', { appliedPosition: lsn(9_900) })], {}, strict).candidate).toBe('pg-2');
  });

  it('accepts HEALTHY, LAGGING and STALLED replicas (a replica of a dead primary is usually STALLED)', () => {
    for (const status of ['HEALTHY', 'LAGGING', 'STALLED'] as const) {
      expect(choose([node('pg-2', { appliedPosition: lsn(9000), status })]).candidate).toBe('pg-2');
    }
  });

  it('says so when the cluster has no replica at all', () => {
    expect(choose([])).toEqual({
      ranking: [],
      rejected: [],
      reason: 'no eligible replica: the cluster has no replica',
      atRisk: [],
    });
  });
});

const REPLID = 'a'.repeat(40);
const OTHER_REPLID = 'b'.repeat(40);
const UUID_A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID_B = '4f22ab58-82db-22f2-af44-d91bb0530673';

/** A dead primary of `engine` at `primary` and one live replica `r-2` at `replica`. */
function pair(
  engine: Engine,
  primary: string | undefined,
  replica: string,
  replicaFields: Partial<NodeState> = {},
) {
  const nodes = [
    node('r-1', { engine, role: 'primary', status: 'DEAD', position: primary, lastHeartbeatAt: T0 }),
    node('r-2', { engine, appliedPosition: replica, ...replicaFields }),
  ];
  return (policy: Policy = DEFAULT_POLICY) => chooseCandidate(nodes, 'r-1', new Map(), policy, NOW);
}

describe("chooseCandidate: data at risk in each engine's unit", () => {
  it.each<[string, Engine, string, string, Partial<DataAtRisk>, string]>([
    ['PostgreSQL: bytes of WAL', 'postgresql', lsn(5000), lsn(1000), { bytes: 4000 }, '4000 bytes of WAL'],
    [
      'Redis: bytes of replication stream',
      'redis',
      `${REPLID}:274000`,
      `${REPLID}:7000`,
      { bytes: 267_000 },
      '267000 bytes of replication stream',
    ],
    ['Redis, bare offsets: bytes', 'redis', '5000', '4990', { bytes: 10 }, '10 bytes of replication stream'],
    [
      'MySQL GTID: transactions',
      'mysql',
      `${UUID_A}:1-100,${UUID_B}:1-5`,
      `${UUID_A}:1-90,${UUID_B}:1-3`,
      { transactions: 12 },
      '12 transactions (GTID)',
    ],
    [
      'MariaDB GTID: transactions',
      'mariadb',
      '0-1-120,1-2-50',
      '0-1-100,1-2-45',
      { transactions: 25 },
      '25 transactions (GTID)',
    ],
    [
      'MySQL binlog coordinates in one file: bytes',
      'mysql',
      'mysql-bin.000003:9000',
      'mysql-bin.000003:1000',
      { bytes: 8000 },
      '8000 bytes of binlog',
    ],
    ['etcd revisions: transactions', 'etcd', '500', '480', { transactions: 20 }, '20 transactions'],
  ])('%s', (_name, engine, primary, replica, amount, unitText) => {
    const choice = pair(engine, primary, replica)();

    expect(choice.atRisk).toEqual([
      {
        nodeId: 'r-2',
        ...amount,
        measurable: true,
        text: `${unitText} behind r-1's last known position ${primary}`,
      },
    ]);
    expect(choice.candidate).toBe('r-2');
    expect(choice.dataAtRisk).toBe(
      `data at risk if r-2 is promoted: ${unitText} behind r-1's last known position ${primary}`,
    );
  });

  it('gates GTID engines in transactions: maxLagOnFailover 10 rejects 12 transactions, 12 accepts them', () => {
    const choose12 = pair('mysql', `${UUID_A}:1-100`, `${UUID_A}:1-88`);

    expect(choose12(resolvePolicy({ maxLagOnFailover: 10 })).rejected).toEqual([
      {
        nodeId: 'r-2',
        reason: `12 transactions (GTID) behind r-1's last known position ${UUID_A}:1-100: more than maxLagOnFailover (10 transactions (GTID))`,
      },
    ]);
    expect(choose12(resolvePolicy({ maxLagOnFailover: 12 })).candidate).toBe('r-2');
  });

  it("says none is known at risk for a replica at (or past) the primary's last report, in a newer binlog file", () => {
    const choice = pair('mysql', 'mysql-bin.000003:9000', 'mysql-bin.000004:120')();

    expect(choice.candidate).toBe('r-2');
    expect(choice.atRisk).toEqual([
      {
        nodeId: 'r-2',
        bytes: 0,
        measurable: true,
        text: 'none known: no known position is ahead of its mysql-bin.000004:120',
      },
    ]);
  });
});

describe('chooseCandidate: an unmeasurable distance is not eligible unless promoteOnUnmeasurableLag', () => {
  const lenient = resolvePolicy({ promoteOnUnmeasurableLag: true });

  it.each<[string, Engine, string | undefined, string, string]>([
    [
      'a binlog file change',
      'mysql',
      'mysql-bin.000004:100',
      'mysql-bin.000003:5000',
      'they are in different binlog files (mysql-bin.000004, mysql-bin.000003): the bytes between them are unknown',
    ],
    [
      'binlogs of different names',
      'mariadb',
      'db1-bin.000004:100',
      'db2-bin.000004:50',
      'their binlogs have different names (db1-bin, db2-bin)',
    ],
    [
      'MySQL GTID sets that each hold transactions the other lacks',
      'mysql',
      `${UUID_A}:1-10`,
      `${UUID_A}:1-9,${UUID_B}:1`,
      'each GTID set holds transactions the other lacks',
    ],
    [
      'MariaDB GTID positions each ahead in a domain',
      'mariadb',
      '0-1-100,1-1-5',
      '0-1-90,1-2-9',
      'each GTID position is ahead in some replication domain',
    ],
    [
      'a GTID set against a binlog coordinate',
      'mysql',
      `${UUID_A}:1-10`,
      'mysql-bin.000003:5000',
      'a GTID position cannot be compared with a binlog coordinate',
    ],
    [
      'different Redis replication ids',
      'redis',
      `${OTHER_REPLID}:100`,
      `${REPLID}:900`,
      'they are under different replication ids (bbbbbbbb..., aaaaaaaa...)',
    ],
  ])('%s', (_name, engine, primary, replica, why) => {
    const strict = pair(engine, primary, replica)();
    const text = `cannot be measured against r-1's last known position ${primary} (its own is ${replica}): ${why}`;

    expect(strict.candidate).toBeUndefined();
    expect(strict.atRisk).toEqual([{ nodeId: 'r-2', measurable: false, text }]);
    expect(strict.rejected).toEqual([
      { nodeId: 'r-2', reason: `data at risk unknown, ${text} (promoteOnUnmeasurableLag is off)` },
    ]);
    const allowed = pair(engine, primary, replica)(lenient);
    expect(allowed.candidate).toBe('r-2');
    expect(allowed.dataAtRisk).toBe(`data at risk if r-2 is promoted: ${text}`);
  });

  it('with nothing to compare with (the primary never reported a position, no other replica), the distance is unmeasurable', () => {
    const choice = pair('postgresql', undefined, lsn(100))();

    expect(choice.candidate).toBeUndefined();
    expect(choice.atRisk).toEqual([
      {
        nodeId: 'r-2',
        measurable: false,
        text: `no position of the failed primary or of another live replica is known to compare its ${lsn(100)} with`,
      },
    ]);
    expect(pair('postgresql', undefined, lsn(100))(lenient).candidate).toBe('r-2');
  });

  it("a live replica whose position cannot be compared with a candidate's makes that candidate unmeasurable too", () => {
    const choice = choose(
      [
        node('pg-2', { engine: 'mysql', appliedPosition: `${UUID_A}:1-10` }),
        node('pg-3', { engine: 'mysql', appliedPosition: `${UUID_A}:1-9,${UUID_B}:1` }),
      ],
      {},
      DEFAULT_POLICY,
      node('pg-1', {
        engine: 'mysql',
        role: 'primary',
        status: 'DEAD',
        position: `${UUID_A}:1-9`,
        lastHeartbeatAt: T0,
      }),
    );

    expect(choice.candidate).toBeUndefined();
    expect(choice.atRisk.map((r) => [r.nodeId, r.measurable])).toEqual([
      ['pg-2', false],
      ['pg-3', false],
    ]);
    expect(choice.rejected.map((r) => r.reason)).toEqual([
      expect.stringContaining("against pg-3's applied position"),
      expect.stringContaining("against pg-2's applied position"),
    ]);
  });
});

describe('chooseCandidate: the time gate maxLagSecondsOnFailover', () => {
  it.each<[string, number | undefined, Policy, boolean]>([
    ['a lag of 30 s passes the 30 s default', 30, DEFAULT_POLICY, true],
    ['a lag of 30.5 s does not', 30.5, DEFAULT_POLICY, false],
    ['no reported lag is not gated', undefined, DEFAULT_POLICY, true],
    ['an override of 5 s rejects a lag of 6 s', 6, resolvePolicy({ maxLagSecondsOnFailover: 5 }), false],
    ['an override of 0 accepts a lag of 0', 0, resolvePolicy({ maxLagSecondsOnFailover: 0 }), true],
  ])('%s', (_name, lagSeconds, policy, promoted) => {
    const choice = choose([node('pg-2', { appliedPosition: lsn(10_000), lagSeconds })], {}, policy);

    expect(choice.candidate).toBe(promoted ? 'pg-2' : undefined);
    expect(choice.atRisk[0]?.seconds).toBe(lagSeconds);
    if (!promoted) {
      expect(choice.rejected).toEqual([
        {
          nodeId: 'pg-2',
          reason: `last reported lag ${lagSeconds}s is more than maxLagSecondsOnFailover (${policy.maxLagSecondsOnFailover}s)`,
        },
      ]);
    }
  });

  it("names the time gate for a replica beyond it, and the candidate's lag in its data at risk", () => {
    const choice = choose([
      node('pg-2', { appliedPosition: lsn(9_970), lagSeconds: 45 }),
      node('pg-3', { appliedPosition: lsn(9_980), lagSeconds: 1 }),
    ]);

    expect(choice.candidate).toBe('pg-3');
    expect(choice.rejected).toEqual([
      { nodeId: 'pg-2', reason: 'last reported lag 45s is more than maxLagSecondsOnFailover (30s)' },
    ]);
    expect(choice.dataAtRisk).toBe(
      `data at risk if pg-3 is promoted: 20 bytes of WAL behind pg-1's last known position ${lsn(10_000)}; last reported lag 1s`,
    );
  });
});

describe('chooseCandidate: measured against the newest data known anywhere', () => {
  it("a replica ahead of the primary's last report is the reference for the others", () => {
    const choice = choose([
      node('pg-2', { appliedPosition: lsn(12_000) }),
      node('pg-3', { appliedPosition: lsn(11_000) }),
    ]);

    expect(choice.candidate).toBe('pg-2');
    expect(choice.atRisk).toEqual([
      {
        nodeId: 'pg-2',
        bytes: 0,
        measurable: true,
        text: `none known: no known position is ahead of its ${lsn(12_000)}`,
      },
      {
        nodeId: 'pg-3',
        bytes: 1000,
        measurable: true,
        text: `1000 bytes of WAL behind pg-2's applied position ${lsn(12_000)}`,
      },
    ]);
  });

  it("a replica's received position proves the primary had that much; PostgreSQL replays its own received WAL on promotion", () => {
    const choice = choose([
      node('pg-2', { appliedPosition: lsn(9_000), receivedPosition: lsn(14_000) }),
      node('pg-3', { appliedPosition: lsn(10_000) }),
    ]);

    expect(choice.atRisk).toEqual([
      expect.objectContaining({
        nodeId: 'pg-2',
        bytes: 1000,
        text: `1000 bytes of WAL behind pg-1's last known position ${lsn(10_000)}`,
      }),
      expect.objectContaining({
        nodeId: 'pg-3',
        bytes: 4000,
        text: `4000 bytes of WAL behind pg-2's received position ${lsn(14_000)}`,
      }),
    ]);
  });

  it("a silent replica's stale position is no reference", () => {
    const choice = choose([
      node('pg-2', { appliedPosition: lsn(50_000), status: 'SILENT' }),
      node('pg-3', { appliedPosition: lsn(10_000) }),
    ]);

    expect(choice.candidate).toBe('pg-3');
    expect(choice.atRisk.find((r) => r.nodeId === 'pg-3')).toMatchObject({ bytes: 0, measurable: true });
  });
});

describe('chooseCandidate: a non-eligible replica holding the newest data blocks the failover', () => {
  const redisPrimary = node('redis-1', {
    engine: 'redis',
    role: 'primary',
    status: 'DEAD',
    position: `${REPLID}:1000000`,
    lastHeartbeatAt: T0,
  });
  const redisReplica = (nodeId: string, applied: number, received = applied) =>
    node(nodeId, {
      engine: 'redis',
      appliedPosition: `${REPLID}:${applied}`,
      receivedPosition: `${REPLID}:${received}`,
    });

  it('the incident: a write-paused Redis replica 267 KB behind is not promoted over the complete noPromote replica', () => {
    const choice = chooseCandidate(
      [redisPrimary, redisReplica('redis-2', 733_000, 1_000_000), redisReplica('redis-3', 1_000_000)],
      'redis-1',
      new Map([['redis-3', { noPromote: true }]]),
      DEFAULT_POLICY,
      NOW,
    );

    expect(choice.candidate).toBeUndefined();
    expect(choice.dataAtRisk).toBeUndefined();
    expect(choice.ranking).toEqual(['redis-2']);
    expect(choice.reason).toBe(
      `no safe candidate: redis-3 holds the newest data (applied ${REPLID}:1000000, 267000 bytes of replication stream ahead of redis-2) ` +
        'but marked noPromote; promoting redis-2, the best eligible replica, would wipe that data when redis-3 is repointed to it. ' +
        'Nothing is promoted: an operator must choose.',
    );
    expect(choice.rejected).toEqual([
      { nodeId: 'redis-2', reason: 'eligible, but redis-3 holds newer data that promoting it would wipe' },
      { nodeId: 'redis-3', reason: 'marked noPromote' },
    ]);
    expect(choice.atRisk).toEqual([
      {
        nodeId: 'redis-2',
        bytes: 267_000,
        measurable: true,
        text: `267000 bytes of replication stream behind redis-1's last known position ${REPLID}:1000000`,
      },
      {
        nodeId: 'redis-3',
        bytes: 0,
        measurable: true,
        text: `none known: no known position is ahead of its ${REPLID}:1000000`,
      },
    ]);
  });

  it("a Redis replica's own received but unapplied stream counts as at risk (REPLICAOF NO ONE drops it)", () => {
    const stale = { ...redisPrimary, position: `${REPLID}:500000` };
    const choice = chooseCandidate(
      [stale, redisReplica('redis-2', 733_000, 1_000_000)],
      'redis-1',
      new Map(),
      DEFAULT_POLICY,
      NOW,
    );

    expect(choice.atRisk).toEqual([
      expect.objectContaining({
        bytes: 267_000,
        text: `267000 bytes of replication stream behind redis-2's received position ${REPLID}:1000000`,
      }),
    ]);
  });

  it.each<[string, Partial<NodeState>, Record<string, NodeFailoverConfig>, boolean]>([
    [
      'a noPromote replica ahead blocks',
      { appliedPosition: lsn(9_900) },
      { 'pg-3': { noPromote: true } },
      true,
    ],
    [
      'a replica in MAINTENANCE ahead blocks',
      { appliedPosition: lsn(9_900), status: 'MAINTENANCE' },
      {},
      true,
    ],
    ['a replica over the time gate ahead blocks', { appliedPosition: lsn(9_900), lagSeconds: 120 }, {}, true],
    [
      'a noPromote replica level with the candidate does not block',
      { appliedPosition: lsn(9_500) },
      { 'pg-3': { noPromote: true } },
      false,
    ],
    [
      'a noPromote replica behind does not block',
      { appliedPosition: lsn(9_000) },
      { 'pg-3': { noPromote: true } },
      false,
    ],
    [
      'a SILENT replica ahead does not block (it is not live)',
      { appliedPosition: lsn(9_900), status: 'SILENT' },
      {},
      false,
    ],
    [
      'a replica ahead that stopped reporting does not block',
      { appliedPosition: lsn(9_900), lastHeartbeatAt: NOW - 31_000 },
      {},
      false,
    ],
  ])('%s', (_name, overrides, config, blocked) => {
    const choice = choose([node('pg-2', { appliedPosition: lsn(9_500) }), node('pg-3', overrides)], config);

    expect(choice.candidate).toBe(blocked ? undefined : 'pg-2');
    expect(choice.reason).toMatch(
      blocked
        ? /^no safe candidate: pg-3 holds the newest data .* 400 bytes of WAL ahead of pg-2/
        : /^promote pg-2/,
    );
  });
});
