import { describe, expect, it } from '@jest/globals';
import { runbookInput } from '../../functions/adapters/sfn-launcher';
import { executionNameFor } from '../../functions/core/incidents';
import { MemoryNotifier } from '../../local/memory-notifier';
import { failFirstCalls } from '../support/faults';
import { streamTableFixture } from './harness';
import { incidentPath, sfnClient } from './incident-path';
import { startStepFunctionsEndpoint } from './local-aws';

describe('Step Functions StartExecution failing transiently', () => {
  const fixture = streamTableFixture('launch');
  const { figures } = fixture;

  /** A stalled replica's incident, with StartExecution failing the given way; returns what happened. */
  async function run(
    clusterId: string,
    fault: { how: 'throttle' | 'lost-response'; count: number },
    options: { finishRuns?: boolean; concurrentDeliveries?: number } = {},
  ) {
    const sfn = await startStepFunctionsEndpoint(options.finishRuns ? { finishRuns: true } : {});
    const client = sfnClient(sfn.url);
    const faults = failFirstCalls(client, { command: 'StartExecutionCommand', ...fault });
    const notifier = new MemoryNotifier();
    try {
      const path = incidentPath(fixture.table, fixture.poller, { sfn: client, notifier });
      await path.stallReplica(clusterId);
      const records = await path.transitions(clusterId);
      await Promise.all(
        Array.from({ length: options.concurrentDeliveries ?? 1 }, () => path.deliver(records)),
      );
      const incidents = await path.incidents(clusterId);
      figures.records += path.heartbeats();
      figures.throttlesSurvived += faults.total();
      figures.duplicatedEffects += Math.max(0, sfn.executions().length - incidents.length);
      figures.lost += path.failures.length;
      return { sfn, incidents, faults, notifier, failures: path.failures, records };
    } finally {
      client.destroy();
      await sfn.close();
    }
  }

  it('starts the incident’s one run after three throttled StartExecution calls', async () => {
    const { sfn, incidents, faults, failures, records } = await run('launch-throttled', {
      how: 'throttle',
      count: 3,
    });

    expect(records.map((r) => r.dynamodb?.NewImage?.transitionTo?.S)).toContain('STALLED');
    expect(failures).toEqual([]);
    expect(faults.total()).toBe(3);
    expect(incidents).toHaveLength(1);
    const incident = incidents[0];
    if (!incident) throw new Error('no incident');
    expect(incident).toMatchObject({ kind: 'STALLED', runbook: 'replica-recovery', outbox: {} });
    expect(sfn.executions()).toEqual([
      {
        executionArn: expect.stringContaining(
          `:execution:replica-sentinel-replica-recovery:${incident.incidentId}`,
        ),
        stateMachineArn: expect.stringContaining(':stateMachine:replica-sentinel-replica-recovery'),
        name: executionNameFor(incident),
        input: JSON.stringify(runbookInput(incident)),
        status: 'RUNNING',
      },
    ]);
    expect(sfn.requests()).toBe(1);
  });

  it('takes ExecutionAlreadyExists on the retry as started when the first call’s answer was lost and the run already ended', async () => {
    const { sfn, incidents, faults, failures, notifier } = await run(
      'launch-lost-ended',
      { how: 'lost-response', count: 1 },
      { finishRuns: true },
    );

    expect(failures).toEqual([]);
    expect(faults.total()).toBe(1);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]?.outbox).toEqual({});
    // The first call reached Step Functions (its answer was lost), the retry got ExecutionAlreadyExists.
    expect(sfn.requests()).toBe(2);
    expect(sfn.executions().map((e) => e.name)).toEqual([incidents[0]?.incidentId]);
    expect(notifier.published.map((n) => n.id)).toEqual([`${incidents[0]?.incidentId}#1`]);
  });

  it('gets the same execution back on the retry when the first call’s answer was lost and the run is still going', async () => {
    const { sfn, incidents, failures } = await run('launch-lost-running', { how: 'lost-response', count: 2 });

    expect(failures).toEqual([]);
    expect(sfn.requests()).toBe(3);
    expect(sfn.executions().map((e) => [e.name, e.status])).toEqual([[incidents[0]?.incidentId, 'RUNNING']]);
  });

  it('starts one run when five deliveries of the same transition race each other through throttled calls', async () => {
    const { sfn, incidents, failures, faults } = await run(
      'launch-racing',
      { how: 'throttle', count: 4 },
      { concurrentDeliveries: 5 },
    );

    expect(failures).toEqual([]);
    expect(faults.total()).toBe(4);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]?.timeline.map((e) => e.event)).toEqual(['opened']);
    expect(sfn.executions()).toHaveLength(1);
    expect(sfn.executions()[0]?.name).toBe(incidents[0]?.incidentId);
  });

  it('gives a reopened (flapping) incident its own second run, once, through throttled calls', async () => {
    const sfn = await startStepFunctionsEndpoint();
    const client = sfnClient(sfn.url);
    const faults = failFirstCalls(client, { command: 'StartExecutionCommand', how: 'throttle', count: 3 });
    try {
      const path = incidentPath(fixture.table, fixture.poller, {
        sfn: client,
        notifier: new MemoryNotifier(),
      });
      const clusterId = 'launch-flapping';
      await path.replicaSeries(clusterId, 0, 9, true);
      await path.deliver(await path.transitions(clusterId));
      await path.replicaSeries(clusterId, 9, 3, false);
      await path.replicaSeries(clusterId, 12, 8, true);
      await path.deliver(await path.transitions(clusterId));

      const incidents = await path.incidents(clusterId);
      expect(path.failures).toEqual([]);
      expect(faults.total()).toBe(3);
      expect(incidents).toHaveLength(1);
      const incident = incidents[0];
      if (!incident) throw new Error('no incident');
      expect(incident).toMatchObject({ flaps: 1, state: 'OPEN', outbox: {} });
      expect(incident.timeline.map((e) => e.event)).toEqual(['opened', 'resolved', 'reopened']);
      expect(sfn.executions().map((e) => e.name)).toEqual([incident.incidentId, executionNameFor(incident)]);
      expect(executionNameFor(incident)).toBe(`${incident.incidentId}-r1`);
      figures.records += path.heartbeats();
      figures.throttlesSurvived += faults.total();
      figures.duplicatedEffects += Math.max(0, sfn.executions().length - 2);
    } finally {
      client.destroy();
      await sfn.close();
    }
  });
});
