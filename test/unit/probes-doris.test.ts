import { describe, expect, it } from '@jest/globals';
import { type FrontendRowSource, probeCluster, probeFrontends } from '../../functions/adapters/probes/index';
import type { ProbeTarget } from '../../functions/adapters/probes/round';
import { parseHeartbeat } from '../../functions/core/wire';
import { loadFrontendRows } from '../fixtures/probes/index';
import { probeOptions } from '../support/probes';

const NOW = Date.parse('2026-11-22T23:00:02.000Z');

const options = () => probeOptions({ observerId: 'probe-a', now: () => NOW, seqAfter: 100 });

const DORIS: ProbeTarget = {
  clusterId: 'olap-doris',
  engine: 'doris',
  nodes: [
    { nodeId: 'fe-1', url: 'mysql://10.0.1.11:9030' },
    { nodeId: 'fe-2', url: 'mysql://10.0.1.12:9030' },
    { nodeId: 'fe-3', url: 'mysql://10.0.1.13' },
  ],
};

/** Answers with `rows` through the frontends named in `answering`; the others refuse. */
function recorded(
  rows: ReturnType<typeof loadFrontendRows>,
  answering: readonly string[],
): FrontendRowSource {
  return async (frontend) => {
    if (!answering.includes(frontend.nodeId)) throw new Error(`connect ECONNREFUSED (${frontend.nodeId})`);
    return rows;
  };
}

describe('the Doris/StarRocks frontend probe on recorded SHOW FRONTENDS outputs', () => {
  it('reports the master as primary at its replayed journal id and a follower behind it as its replica', async () => {
    const { options: opts } = options();

    const [master, follower] = await probeFrontends(
      DORIS,
      opts,
      recorded(loadFrontendRows('doris-show-frontends'), ['fe-1']),
    );

    expect(master).toEqual({
      v: 1,
      clusterId: 'olap-doris',
      nodeId: 'fe-1',
      engine: 'doris',
      role: 'primary',
      seq: expect.any(Number),
      observedAt: '2026-11-22T23:00:02.000Z',
      observerId: 'probe-a',
      reachable: true,
      position: '248113',
    });
    expect(follower).toMatchObject({
      nodeId: 'fe-2',
      role: 'replica',
      reachable: true,
      replication: { sourceNodeId: 'fe-1', linkUp: true, appliedPosition: '247980' },
    });
    expect(follower?.position).toBeUndefined();
  });

  it('reports a frontend that is not alive as unreachable with role unknown, saying why', async () => {
    const { options: opts, warnings } = options();

    const heartbeats = await probeFrontends(
      DORIS,
      opts,
      recorded(loadFrontendRows('doris-show-frontends'), ['fe-1']),
    );

    expect(heartbeats[2]).toMatchObject({ nodeId: 'fe-3', role: 'unknown', reachable: false });
    expect(heartbeats[2]?.replication).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/fe-3.*Alive false.*Connection refused/);
  });

  it('gives one heartbeat per frontend with strictly increasing seq, each accepted by parseHeartbeat', async () => {
    const { options: opts } = options();

    const heartbeats = await probeFrontends(
      DORIS,
      opts,
      recorded(loadFrontendRows('doris-show-frontends'), ['fe-1']),
    );

    expect(heartbeats.map((hb) => hb.nodeId)).toEqual(['fe-1', 'fe-2', 'fe-3']);
    const parsed = heartbeats.map((hb) => parseHeartbeat(hb));
    expect(parsed.every((hb) => hb.observerId === 'probe-a')).toBe(true);
    expect(new Set(parsed.map((hb) => hb.seq)).size).toBe(3);
  });

  it('reads the rows through the next frontend when the first does not answer', async () => {
    const { options: opts, warnings } = options();

    const heartbeats = await probeFrontends(
      DORIS,
      opts,
      recorded(loadFrontendRows('doris-show-frontends'), ['fe-2']),
    );

    expect(heartbeats.map((hb) => [hb.nodeId, hb.role, hb.reachable])).toEqual([
      ['fe-1', 'primary', true],
      ['fe-2', 'replica', true],
      ['fe-3', 'unknown', false],
    ]);
    expect(warnings.join('\n')).toContain('on fe-2');
  });

  it('reports every frontend unreachable, without rejecting, when none answers', async () => {
    const { options: opts, warnings } = options();

    const heartbeats = await probeFrontends(DORIS, opts, recorded([], []));

    expect(heartbeats.map((hb) => [hb.nodeId, hb.role, hb.reachable])).toEqual([
      ['fe-1', 'unknown', false],
      ['fe-2', 'unknown', false],
      ['fe-3', 'unknown', false],
    ]);
    expect(warnings[0]).toMatch(/no frontend answered SHOW FRONTENDS.*fe-1: connect ECONNREFUSED/);
    for (const hb of heartbeats) expect(() => parseHeartbeat(hb)).not.toThrow();
  });

  it('reports a configured frontend missing from the rows as unreachable', async () => {
    const { options: opts } = options();
    const target: ProbeTarget = {
      ...DORIS,
      nodes: [...DORIS.nodes, { nodeId: 'fe-4', url: 'mysql://10.0.1.14:9030' }],
    };

    const heartbeats = await probeFrontends(
      target,
      opts,
      recorded(loadFrontendRows('doris-show-frontends'), ['fe-1']),
    );

    expect(heartbeats[3]).toMatchObject({ nodeId: 'fe-4', role: 'unknown', reachable: false });
  });

  it('prefers the view of a frontend that sees a master over one cut off from it', async () => {
    const { options: opts } = options();
    const rows = loadFrontendRows('doris-show-frontends');
    const cutOff = rows.map((row) => ({
      ...row,
      IsMaster: 'false',
      Alive: row.Host === '10.0.1.12' ? 'true' : 'false',
    }));
    const source: FrontendRowSource = async (frontend) => (frontend.nodeId === 'fe-2' ? cutOff : rows);
    const target: ProbeTarget = {
      ...DORIS,
      nodes: [DORIS.nodes[1], DORIS.nodes[0], DORIS.nodes[2]].filter((n) => n !== undefined),
    };

    const heartbeats = await probeFrontends(target, opts, source);

    expect(heartbeats.map((hb) => [hb.nodeId, hb.role])).toEqual([
      ['fe-2', 'replica'],
      ['fe-1', 'primary'],
      ['fe-3', 'unknown'],
    ]);
  });

  it('reads StarRocks rows (IP column, LEADER role) and maps frontends by name when the address does not match', async () => {
    const { options: opts } = options();
    const target: ProbeTarget = {
      clusterId: 'olap-starrocks',
      engine: 'starrocks',
      nodes: [
        { nodeId: 'sr-fe-1', url: 'mysql://10.0.2.21:9030' },
        { nodeId: 'sr-fe-2', url: 'mysql://10.0.2.22:9030' },
        // Behind a name the rows do not use: matched by its BDBJE name instead.
        { nodeId: '10.0.2.23_9010_1763625455000', url: 'mysql://fe3.olap.internal:9030' },
      ],
    };

    const heartbeats = await probeFrontends(
      target,
      opts,
      recorded(loadFrontendRows('starrocks-show-frontends'), ['sr-fe-1']),
    );

    expect(
      heartbeats.map((hb) => [hb.nodeId, hb.role, hb.position ?? hb.replication?.appliedPosition]),
    ).toEqual([
      ['sr-fe-1', 'primary', '91877'],
      ['sr-fe-2', 'replica', '91877'],
      ['10.0.2.23_9010_1763625455000', 'replica', '91876'],
    ]);
    expect(heartbeats[2]?.replication?.sourceNodeId).toBe('sr-fe-1');
    for (const hb of heartbeats) expect(parseHeartbeat(hb).engine).toBe('starrocks');
  });

  it('probes a doris cluster through probeCluster without throwing when its frontends are not there', async () => {
    const { options: opts } = options();
    const target: ProbeTarget = {
      clusterId: 'olap-doris',
      engine: 'doris',
      nodes: [{ nodeId: 'fe-1', url: 'not a url' }],
    };

    const heartbeats = await probeCluster(target, opts);

    expect(heartbeats).toEqual([
      expect.objectContaining({ nodeId: 'fe-1', reachable: false, role: 'unknown' }),
    ]);
  });
});
