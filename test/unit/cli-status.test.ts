import { describe, expect, it } from '@jest/globals';
import type { ClusterStatusRecord } from '../../functions/adapters/cluster-status-reader';
import type { NodeState } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import { COLORS } from '../../local/cli-common';
import { clusterStatus, renderStatus, statusDocument } from '../../local/cli-status';
import { T0 } from '../support/heartbeats';
import { storedNode } from '../support/node-states';

const NOW = T0 + 600_000;
const REPLID = 'd'.repeat(40);

/** A replica unless `over` says otherwise, in its status for 5 minutes. */
const node = (nodeId: string, over: Partial<NodeState>): NodeState =>
  storedNode(nodeId, 'replica', NOW, { statusSince: NOW - 300_000, ...over });

const record: ClusterStatusRecord = {
  clusterId: 'cache',
  configured: true,
  mode: 'auto',
  epoch: 3,
  primaryNodeId: 'r1',
  lock: {
    incidentId: 'cache-r9-x',
    execution: 'cache-r9-x-r1',
    runbook: 'replica-recovery',
    since: NOW - 90_000,
  },
  paused: { by: 'alice', reason: 'kernel upgrade', since: NOW - 300_000 },
  maintenance: { until: NOW + 3_600_000, by: 'bob', reason: 'disk swap' },
  openIncidents: 2,
  policy: DEFAULT_POLICY,
  nodes: [
    node('r1', { role: 'primary', position: `${REPLID}:9000` }),
    node('r2', { sourceNodeId: 'r1', appliedPosition: `${REPLID}:9000`, lagSeconds: 0, lagUnits: 0 }),
    node('r3', {
      sourceNodeId: 'r2',
      appliedPosition: `${REPLID}:8000`,
      lagSeconds: 4,
      lagUnits: 1000,
      status: 'LAGGING',
    }),
    node('r4', { role: 'primary', status: 'SPLIT_BRAIN', position: `${REPLID}:9000` }),
    node('r5', { sourceNodeId: 'r4', appliedPosition: `${REPLID}:9000`, linkUp: false }),
  ],
};

describe('status rendering', () => {
  const shown = clusterStatus(record, NOW);

  it('prints the header, the pause, the maintenance and the tree, plain without color', () => {
    expect(renderStatus([shown], NOW, false)).toBe(
      [
        'cluster cache  mode auto  epoch 3  primary r1  lock held  open incidents 2',
        '  lock held by cache-r9-x (replica-recovery, execution cache-r9-x-r1, since 90s)',
        '  automation PAUSED by alice, 5m ago: kernel upgrade',
        '  maintenance until 2026-11-23T00:10:00.000Z (by bob: disk swap)',
        '  NODE      ROLE     STATUS       SINCE  LAG          AT RISK  APPLIED                                        HEARTBEAT',
        `  r1        primary  HEALTHY      5m     -            -        ${REPLID}:9000  2s`,
        `  └─ r2     replica  HEALTHY      5m     0s / 0 B     0 B      ${REPLID}:9000  2s`,
        `     └─ r3  replica  LAGGING      5m     4s / 1000 B  1000 B   ${REPLID}:8000  2s`,
        `  r4        primary  SPLIT_BRAIN  5m     -            0 B      ${REPLID}:9000  2s         !! SPLIT BRAIN: a second writable primary: the recorded primary is r1 (epoch 3)`,
        `  └─ r5     replica  HEALTHY      5m     -            0 B      ${REPLID}:9000  2s         !! ORPHAN: follows r4 (SPLIT_BRAIN), not the primary: the recorded primary is r1 (epoch 3)  (link down)`,
      ].join('\n'),
    );
  });

  it('colors the statuses and the loud marks only when asked, keeping the columns aligned', () => {
    const colored = renderStatus([shown], NOW, true);
    expect(colored).toContain('\u001b[33mLAGGING    \u001b[0m');
    expect(colored).toContain('\u001b[1;31m!! SPLIT BRAIN: a second writable primary');
    expect(colored).toContain('\u001b[1;31m!! ORPHAN: follows r4');
    // Without the escape sequences it is the plain text.
    let plain = colored;
    for (const code of [...Object.values(COLORS), '\u001b[1;31m', '\u001b[0m'])
      plain = plain.replaceAll(code, '');
    expect(plain).toBe(renderStatus([shown], NOW, false));
  });

  it('says when there is no primary and no node yet, and when the table has no cluster', () => {
    const empty = clusterStatus(
      {
        ...record,
        primaryNodeId: undefined,
        lock: undefined,
        paused: undefined,
        nodes: [],
      } as ClusterStatusRecord,
      NOW,
    );
    expect(renderStatus([empty], NOW, false).split('\n')).toEqual([
      'cluster cache  mode auto  epoch 3  primary none  lock free  open incidents 2',
      '  maintenance until 2026-11-23T00:10:00.000Z (by bob: disk swap)',
      '  (no node has reported yet)',
    ]);
    expect(renderStatus([], NOW, false)).toBe('no cluster in the table yet');
  });

  it('--json: follows on every node (null when it follows nothing), marks and the header fields', () => {
    const doc = statusDocument([shown]);
    expect(doc.nodes.map((n) => [n.nodeId, n.follows, n.mark?.kind ?? null])).toEqual([
      ['r1', null, null],
      ['r2', 'r1', null],
      ['r3', 'r2', null],
      ['r4', null, 'split-brain'],
      ['r5', 'r4', 'orphan'],
    ]);
    expect(doc.clusters[0]).toMatchObject({
      mode: 'auto',
      epoch: 3,
      primaryNodeId: 'r1',
      rootPrimaryNodeId: 'r1',
      lock: { incidentId: 'cache-r9-x', execution: 'cache-r9-x-r1', since: NOW - 90_000 },
      paused: { by: 'alice', reason: 'kernel upgrade' },
      openIncidents: 2,
      splitBrain: ['r4'],
      orphans: ['r5'],
    });
  });
});
