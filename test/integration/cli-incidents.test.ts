import { beforeAll, describe, expect, it } from '@jest/globals';
import { RecoveryStore } from '../../functions/adapters/recovery-store';
import { executionNameFor, type Incident } from '../../functions/core/incidents';
import { incidentsCommand } from '../../local/cli-incidents';
import { MemoryNotifier } from '../../local/memory-notifier';
import { cli, tableArgs } from '../support/cli';
import { ingestOn, onTransitionOn } from '../support/handlers';
import { lsn, primaryHeartbeat, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import { transitionRecords, useStreamedTable } from '../support/transitions';

const silent = silentLogger();
const context = lambdaContext();

type Shown = Incident & { runbookStatus?: string; awaitingApproval: boolean };

describe('replica-sentinel incidents and incident show, on incidents opened by the real handlers', () => {
  const { table, poller } = useStreamedTable('cli-incidents');
  let target: string[];
  /** The stalled replica's incident (OPEN, replica-recovery with a recorded step) and the resolved one. */
  let stalled: Incident;
  let resolved: Incident;

  /** Heartbeats of a primary and its replica every 10 s from `start`; the replica stalls or keeps up. */
  async function heartbeats(
    clusterId: string,
    start: number,
    fromTick: number,
    ticks: number,
    stall: boolean,
  ) {
    for (let i = fromTick; i < fromTick + ticks; i++) {
      const at = start + i * 10_000;
      const ingest = ingestOn(table, { logger: silent, clock: () => at });
      await ingest(
        kinesisEvent([
          kinesisRecord(primaryHeartbeat({ clusterId, at, seq: i + 1, position: lsn(1000 + i * 100) })),
          kinesisRecord(
            replicaHeartbeat({ clusterId, at, seq: i + 1, applied: lsn(stall ? 1000 : 1000 + i * 100) }),
          ),
        ]),
        context,
      );
    }
  }

  /** The table stream, filtered as the event source mapping does, into the real on-transition handler. */
  async function deliverTransitions() {
    const onTransition = onTransitionOn(
      table,
      { notifier: new MemoryNotifier(), runbooks: { start: async () => ({ note: 'recorded by the test' }) } },
      silent,
    );
    const records = await transitionRecords(poller);
    const response = await onTransition({ Records: records }, context);
    expect(response).toEqual({ batchItemFailures: [] });
  }

  async function incidentsOf(clusterId: string): Promise<Incident[]> {
    return (await table.clusterItems(clusterId))
      .filter((i) => String(i.SK).startsWith('INCIDENT#'))
      .map((i) => i as unknown as Incident);
  }

  beforeAll(async () => {
    target = tableArgs(table);

    // inc-old: a replica stalls, then catches up: one RESOLVED incident.
    await heartbeats('inc-old', T0, 0, 9, true);
    await heartbeats('inc-old', T0, 9, 3, false);
    // inc-new, an hour later: a replica stalls and stays stalled: one OPEN incident handed to replica-recovery.
    await heartbeats('inc-new', T0 + 3_600_000, 0, 9, true);
    await deliverTransitions();
    [resolved] = (await incidentsOf('inc-old')) as [Incident];
    [stalled] = (await incidentsOf('inc-new')) as [Incident];
    // The runbook records its steps on the incident through the recovery store, as runbook-steps does.
    const recovery = new RecoveryStore(table.client, table.tableName);
    const execution = executionNameFor(stalled);
    await recovery.recordStep('inc-new', stalled.incidentId, stalled.openedAt, {
      at: stalled.openedAt + 2_000,
      execution,
      step: 'verified',
      detail: 're-verified with fresh state',
    });
    await recovery.recordStep('inc-new', stalled.incidentId, stalled.openedAt, {
      at: stalled.openedAt + 3_000,
      execution,
      step: 'restarted',
      detail: 'replication restarted on pg-2',
    });
  });

  it('lists every incident newest first as JSON, with its runbook and where the runbook is', async () => {
    expect(resolved).toMatchObject({ state: 'RESOLVED', kind: 'STALLED', nodeId: 'pg-2' });
    expect(stalled).toMatchObject({ state: 'OPEN', kind: 'STALLED', runbook: 'replica-recovery' });

    const result = await cli(['incidents', '--json', ...target]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const { incidents } = JSON.parse(result.stdout) as { incidents: Shown[] };
    expect(incidents.map((i) => [i.incidentId, i.clusterId, i.state])).toEqual([
      [stalled.incidentId, 'inc-new', 'OPEN'],
      [resolved.incidentId, 'inc-old', 'RESOLVED'],
    ]);
    expect(incidents[0]).toMatchObject({
      nodeId: 'pg-2',
      role: 'replica',
      severity: 'major',
      runbook: 'replica-recovery',
      runbookStatus: 'restarted',
      awaitingApproval: false,
      openedAt: stalled.openedAt,
    });
    expect(incidents[0]).not.toHaveProperty('outbox');
    expect(incidents[0]).not.toHaveProperty('stepKeys');
  });

  it('prints a plain table when piped, filtered by cluster and state', async () => {
    const result = await cli(['incidents', '--cluster', 'inc-old', '--state', 'resolved', ...target]);

    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INCIDENT\s+CLUSTER\s+NODE\s+KIND\s+STATE\s+OPENED\s+UPDATED\s+RUNBOOK$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]?.split(/\s+/).slice(0, 5)).toEqual([
      resolved.incidentId,
      'inc-old',
      'pg-2',
      'STALLED/major',
      'RESOLVED',
    ]);
    expect(result.stdout).not.toContain('\u001b[');
  });

  it('colors kind and state on a terminal, and not with NO_COLOR set', async () => {
    const print = async (env: NodeJS.ProcessEnv) => {
      const out: string[] = [];
      const io = { out: (text: string) => void out.push(text), err: () => undefined };
      const wasTty = process.stdout.isTTY;
      process.stdout.isTTY = true;
      try {
        await incidentsCommand(['--cluster', 'inc-new', ...target], env, io, Date.now());
      } finally {
        process.stdout.isTTY = wasTty;
      }
      return out.join('\n');
    };

    const colored = await print({});
    expect(colored).toContain('\u001b[31mSTALLED/major\u001b[0m');
    expect(colored).toContain('\u001b[33mOPEN '); // the STATE column, padded to the header's width
    expect(await print({ NO_COLOR: '1' })).not.toContain('\u001b[');
  });

  it('leaves out the incidents of other states, and says so when none is left', async () => {
    const open = await cli(['incidents', '--state', 'open', '--json', ...target]);
    expect((JSON.parse(open.stdout) as { incidents: Shown[] }).incidents.map((i) => i.incidentId)).toEqual([
      stalled.incidentId,
    ]);

    const failed = await cli(['incidents', '--cluster', 'inc-new', '--state', 'failed', ...target]);
    expect(failed).toEqual({ code: 0, stdout: 'no failed incidents in cluster inc-new\n', stderr: '' });
  });

  it('shows one incident with every status change and runbook step in time order', async () => {
    const result = await cli(['incident', 'show', stalled.incidentId, '--cluster', 'inc-new', ...target]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`incident ${stalled.incidentId}`);
    expect(lines).toContain('  runbook  replica-recovery: restarted');
    expect(lines).toContain('  state    OPEN');
    const timeline = lines.slice(lines.indexOf('timeline:') + 1);
    const at = (offset: number) => new Date(stalled.openedAt + offset).toISOString();
    expect(timeline).toEqual([
      expect.stringMatching(
        new RegExp(`^  ${at(0)}  opened\\s+HEALTHY → STALLED: applied position .* has not advanced`),
      ),
      expect.stringMatching(new RegExp(`^  ${at(2000)}  runbook verified\\s+re-verified with fresh state$`)),
      expect.stringMatching(
        new RegExp(`^  ${at(3000)}  runbook restarted\\s+replication restarted on pg-2$`),
      ),
    ]);
  });

  it('shows a resolved incident found without its cluster, as JSON with its timeline', async () => {
    const result = await cli(['incident', 'show', resolved.incidentId, '--json', ...target]);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    const { incident } = JSON.parse(result.stdout) as { incident: Shown };
    expect(incident).toMatchObject({
      incidentId: resolved.incidentId,
      clusterId: 'inc-old',
      state: 'RESOLVED',
    });
    expect(incident.timeline.map((t) => [t.event, t.from, t.to])).toEqual([
      ['opened', 'HEALTHY', 'STALLED'],
      ['resolved', 'STALLED', 'HEALTHY'],
    ]);
    expect(incident.resolvedAt).toBe(incident.timeline[1]?.at);
  });

  it.each([
    [
      'an unknown incident of a cluster',
      () => ['incident', 'show', 'no-such-incident', '--cluster', 'inc-new'],
      () =>
        `replica-sentinel: unknown incident 'no-such-incident' in cluster inc-new (its latest: ${stalled.incidentId})`,
    ],
    [
      'an unknown incident',
      () => ['incident', 'show', 'no-such-incident'],
      () =>
        "replica-sentinel: unknown incident 'no-such-incident' (list them with `replica-sentinel incidents`)",
    ],
    [
      'an unknown cluster (show)',
      () => ['incident', 'show', stalled.incidentId, '--cluster', 'nope'],
      () => "replica-sentinel: unknown cluster 'nope': no node has reported for it",
    ],
    [
      'an unknown cluster (list)',
      () => ['incidents', '--cluster', 'nope'],
      () => "replica-sentinel: unknown cluster 'nope': no node has reported for it",
    ],
    [
      'an unknown state',
      () => ['incidents', '--state', 'closed'],
      () => "replica-sentinel: --state: 'closed' is not one of open, resolved, failed, all",
    ],
    [
      'a missing incident id',
      () => ['incident', 'show'],
      () => 'replica-sentinel: incident show: give the incident id (see `replica-sentinel incidents`)',
    ],
    [
      'an unknown incident action',
      () => ['incident', 'list'],
      () => "replica-sentinel: incident: expected 'show ID', got 'list'",
    ],
  ])('rejects %s with one line on stderr and exit code 2', async (_name, args, message) => {
    const result = await cli([...args(), ...target]);
    expect(result).toEqual({ code: 2, stdout: '', stderr: `${message()}\n` });
  });

  it('says how to reach a local stack when none answers', async () => {
    const result = await cli(['incidents', '--endpoint', 'http://127.0.0.1:9']);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'replica-sentinel: no local stack answers at http://127.0.0.1:9 (start one with `replica-sentinel local up`, or pass --endpoint / --stack)\n',
    });
  });

  it('prints help for each command with exit code 0', async () => {
    const list = await cli(['incidents', '--help']);
    const show = await cli(['incident', 'show', '--help']);
    expect(list).toMatchObject({ code: 0, stderr: '' });
    expect(list.stdout).toContain('Usage: replica-sentinel incidents [--cluster ID] [--state');
    expect(show).toMatchObject({ code: 0, stderr: '' });
    expect(show.stdout).toContain('Usage: replica-sentinel incident show INCIDENT_ID');
  });
});
