import { beforeAll, describe, expect, it } from '@jest/globals';
import { applyClusterConfig } from '../../functions/adapters/cluster-config-store';
import { RecoveryStore } from '../../functions/adapters/recovery-store';
import { parseClusterConfig } from '../../functions/core/config/parse';
import type { Incident } from '../../functions/core/incidents';
import type { HeartbeatInput } from '../../functions/core/wire';
import { statusCommand } from '../../local/cli-status';
import { MemoryNotifier } from '../../local/memory-notifier';
import { cli, tableArgs } from '../support/cli';
import { ingestOn, onTransitionOn } from '../support/handlers';
import { iso } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { transitionRecords, useStreamedTable } from '../support/transitions';

const silent = silentLogger();
const context = lambdaContext();
const REPLID = 'c'.repeat(40);

type ShownNode = { clusterId: string; nodeId: string; role: string; status: string; follows: string | null };
type ShownCluster = {
  clusterId: string;
  mode: string;
  epoch: number;
  primaryNodeId: string | null;
  lock: { incidentId: string; execution: string; runbook?: string; since?: number } | null;
  openIncidents: number;
  splitBrain: string[];
  orphans: string[];
  detached: string[];
  tree: unknown[];
};

/** A Redis heartbeat of cluster topo: a primary at `offset`, or a replica of `source` that applied it. */
function heartbeat(nodeId: string, at: number, seq: number, offset: number, source?: string): HeartbeatInput {
  const base = {
    v: 1 as const,
    clusterId: 'topo',
    nodeId,
    engine: 'redis' as const,
    seq,
    observedAt: iso(at),
  };
  return source === undefined
    ? { ...base, role: 'primary', position: `${REPLID}:${offset}` }
    : {
        ...base,
        role: 'replica',
        replication: { sourceNodeId: source, linkUp: true, appliedPosition: `${REPLID}:${offset}` },
      };
}

/** The NODE cell of each row of the tree (the header's first column, after the two-space indent), header first. */
const nodeColumn = (lines: string[]) => lines.map((l) => l.slice(2, lines[0]?.indexOf('ROLE')).trimEnd());

describe('replica-sentinel status: the replication tree, on states written by the real handlers', () => {
  const { table, poller } = useStreamedTable('cli-status');
  let target: string[];
  let splitIncident: Incident;

  beforeAll(async () => {
    target = tableArgs(table);
    const nodes = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6']
      .map((id, i) => `      - { id: ${id}, url: "redis://127.0.0.1:${i + 1}" }`)
      .join('\n');
    const config = parseClusterConfig(
      [
        'clusters:',
        '  - id: topo',
        '    engine: redis',
        '    mode: approve',
        '    nodes:',
        nodes,
        '  - id: quiet',
        '    engine: redis',
        '    mode: dry-run',
        '    nodes: [{ id: q1, url: "redis://127.0.0.1:7" }, { id: q2, url: "redis://127.0.0.1:8" }]',
        '',
      ].join('\n'),
      'status.yaml',
    );
    const start = Date.now() - 60_000;
    await applyClusterConfig(table.client, table.tableName, config, start);
    // r1 becomes the recorded primary at epoch 1 the way a failover records it: lock, epoch, primary, release.
    const recovery = new RecoveryStore(table.client, table.tableName);
    expect(await recovery.takeLock('topo', 'setup', start, 3600)).toBe(true);
    await recovery.bumpEpoch('topo', 'setup', 0, 'r0', 'r1');
    await recovery.setPrimary('topo', 'setup', 1, 'r1');
    await recovery.releaseLock('topo', 'setup');

    // Two rounds of heartbeats through the real ingest handler: r3 chained under r2, r4 a second writable
    // primary with r5 following it, r6 following a node the cluster does not know.
    for (const round of [0, 1]) {
      const at = start + 10_000 * (round + 1);
      const ingest = ingestOn(table, { logger: silent, clock: () => at });
      const seq = round + 1;
      const response = await ingest(
        kinesisEvent(
          [
            heartbeat('r1', at, seq, 9000 + round * 100),
            heartbeat('r2', at, seq, 9000 + round * 100, 'r1'),
            heartbeat('r3', at, seq, 8800, 'r2'),
            heartbeat('r4', at, seq, 9000),
            heartbeat('r5', at, seq, 9000, 'r4'),
            heartbeat('r6', at, seq, 9000, 'ghost'),
          ].map((hb) => kinesisRecord(hb)),
        ),
        context,
      );
      expect(response).toEqual({ batchItemFailures: [] });
    }
    // The table stream into the real on-transition handler: r4 and r5 open incidents.
    const onTransition = onTransitionOn(
      table,
      { notifier: new MemoryNotifier(), runbooks: { start: async () => ({ note: 'recorded by the test' }) } },
      silent,
    );
    const records = await transitionRecords(poller);
    expect(await onTransition({ Records: records }, context)).toEqual({ batchItemFailures: [] });
    const incidents = (await table.clusterItems('topo'))
      .filter((i) => String(i.SK).startsWith('INCIDENT#'))
      .map((i) => i as unknown as Incident);
    expect(incidents.map((i) => [i.nodeId, i.kind, i.state]).sort()).toEqual([
      ['r4', 'SPLIT_BRAIN', 'OPEN'],
      ['r5', 'WRONG_SOURCE', 'OPEN'],
    ]);
    splitIncident = incidents.find((i) => i.nodeId === 'r4') as Incident;
    // Its replica-recovery run holds the cluster lock.
    expect(
      await recovery.takeLock('topo', splitIncident.incidentId, Date.now(), 3600, 'replica-recovery'),
    ).toBe(true);
  });

  it('prints the header and the tree: chained replica, split brain and orphans marked loudly, no color when piped', async () => {
    const result = await cli(['status', '--cluster', 'topo', ...target]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).not.toContain('\u001b[');
    const lines = result.stdout.trimEnd().split('\n');
    const id = splitIncident.incidentId;
    expect(lines.slice(0, 2)).toEqual([
      'cluster topo  mode approve  epoch 1  primary r1  lock held  open incidents 2',
      expect.stringMatching(
        new RegExp(`^ {2}lock held by ${id} \\(replica-recovery, execution ${id}, since \\d+s\\)$`),
      ),
    ]);
    expect(lines[2]).toMatch(/^ {2}NODE\s+ROLE\s+STATUS\s+SINCE\s+LAG\s+AT RISK\s+APPLIED\s+HEARTBEAT$/);
    expect(nodeColumn(lines.slice(2))).toEqual(['NODE', 'r1', '└─ r2', '   └─ r3', 'r4', '└─ r5', 'r6']);
    const row = (nodeId: string) =>
      lines.find((l) => l.startsWith(`  ${nodeId} `) || l.includes(`─ ${nodeId} `)) ?? '';
    expect(row('r1')).not.toContain('!!');
    expect(row('r3')).not.toContain('!!');
    expect(row('r3')).toMatch(/ 300 B /); // data at risk: 300 bytes behind r1's and r2's 9100
    expect(row('r4')).toMatch(
      / SPLIT_BRAIN .*!! SPLIT BRAIN: a second writable primary: the recorded primary is r1 \(epoch 1\)$/,
    );
    expect(row('r5')).toMatch(/!! ORPHAN: follows r4 \(SPLIT_BRAIN\), not the primary/);
    expect(row('r6')).toMatch(/!! ORPHAN: follows ghost, a node this cluster does not know$/);
  });

  it('--json keeps the flat node fields, adds follows per node and the cluster header with its tree', async () => {
    const result = await cli(['status', '--cluster', 'topo', '--json', ...target]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(result.stdout) as { clusters: ShownCluster[]; nodes: ShownNode[] };
    expect(doc.nodes.map((n) => [n.nodeId, n.role, n.follows])).toEqual([
      ['r1', 'primary', null],
      ['r2', 'replica', 'r1'],
      ['r3', 'replica', 'r2'],
      ['r4', 'primary', null],
      ['r5', 'replica', 'r4'],
      ['r6', 'replica', 'ghost'],
    ]);
    expect(doc.nodes[0]).toEqual(
      expect.objectContaining({
        clusterId: 'topo',
        status: 'HEALTHY',
        statusSince: expect.any(Number),
        statusReason: expect.any(String),
        appliedPosition: `${REPLID}:9100`,
        lastHeartbeatAt: expect.any(Number),
      }),
    );
    expect(doc.nodes.find((n) => n.nodeId === 'r4')?.status).toBe('SPLIT_BRAIN');
    expect(doc.clusters).toHaveLength(1);
    expect(doc.clusters[0]).toMatchObject({
      clusterId: 'topo',
      mode: 'approve',
      epoch: 1,
      primaryNodeId: 'r1',
      lock: {
        incidentId: splitIncident.incidentId,
        execution: splitIncident.incidentId,
        runbook: 'replica-recovery',
      },
      openIncidents: 2,
      splitBrain: ['r4'],
      orphans: ['r5', 'r6'],
      detached: [],
      tree: [
        { nodeId: 'r1', children: [{ nodeId: 'r2', children: [{ nodeId: 'r3', children: [] }] }] },
        { nodeId: 'r4', children: [{ nodeId: 'r5', children: [] }] },
        { nodeId: 'r6', children: [] },
      ],
    });
  });

  it('without --cluster shows every cluster, one with no report yet included', async () => {
    const result = await cli(['status', ...target]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const blocks = result.stdout.trimEnd().split('\n\n');
    expect(blocks.map((b) => b.split('\n')[0]?.split('  ').slice(0, 4))).toEqual([
      ['cluster quiet', 'mode dry-run', 'epoch 0', 'primary none'],
      ['cluster topo', 'mode approve', 'epoch 1', 'primary r1'],
    ]);
    expect(blocks[0]).toContain('lock free  open incidents 0\n  (no node has reported yet)');
  });

  it('colors the marks on a terminal, not with NO_COLOR set', async () => {
    const printed = async (env: NodeJS.ProcessEnv) => {
      const out: string[] = [];
      await statusCommand(
        ['--cluster', 'topo', ...target],
        env,
        { out: (t) => out.push(t) },
        Date.now(),
        true,
      );
      return out.join('\n');
    };
    expect(await printed({})).toContain('\u001b[1;31m!! SPLIT BRAIN: a second writable primary');
    expect(await printed({ NO_COLOR: '1' })).not.toContain('\u001b[');
  });

  it('exits 2 with one line for an unknown cluster or a bad argument', async () => {
    expect(await cli(['status', '--cluster', 'nope', ...target])).toEqual({
      code: 2,
      stdout: '',
      stderr: "replica-sentinel: unknown cluster 'nope': no node has reported for it\n",
    });
    const bad = await cli(['status', '--clusters', 'topo', ...target]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
