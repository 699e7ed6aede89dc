import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { DynamoDBStreamEvent, KinesisStreamEvent } from 'aws-lambda';
import { keys } from '../../functions/adapters/table-definition';
import type { InvokeResult } from '../../local/cli-invoke';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { cli, tableArgs } from '../support/cli';
import { localEndpoint, useTestTable } from '../support/dynamodb';

const EVENTS = {
  heartbeats: 'local/events/ingest-heartbeat.json',
  changes: 'local/events/ingest-change-stream.json',
  transition: 'local/events/on-transition.json',
  sweep: 'local/events/sweep.json',
};
const load = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
const sequenceOf = (file: string, index: number) =>
  load<KinesisStreamEvent>(file).Records[index]?.kinesis.sequenceNumber;

describe('replica-sentinel invoke FUNCTION --event FILE on a DynamoDB Local table', () => {
  const table = useTestTable('cli-invoke', 'each');
  let target: string[];
  beforeEach(async () => {
    target = tableArgs(table);
  });

  const invoke = async (fn: string, event: string, ...extra: string[]) => {
    const result = await cli(['invoke', fn, '--event', event, '--json', ...extra, ...target]);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as InvokeResult;
  };

  it('runs ingest-heartbeat on a Kinesis event: writes the nodes and prints the record it quarantined', async () => {
    const result = await invoke('ingest-heartbeat', EVENTS.heartbeats);

    expect(result).toMatchObject({
      function: 'ingest-heartbeat',
      records: 3,
      response: { batchItemFailures: [] },
      quarantined: [
        {
          sequenceNumber: sequenceOf(EVENTS.heartbeats, 2),
          reason: expect.stringContaining('seq'),
        },
      ],
    });
    expect(await table.getNode('example-pg', 'pg-1')).toMatchObject({ role: 'primary', status: 'HEALTHY' });
    expect(await table.getNode('example-pg', 'pg-2')).toMatchObject({
      role: 'replica',
      appliedPosition: '0/3033448',
    });
    expect(await table.getNode('example-pg', 'pg-3')).toBeUndefined();
  });

  it('prints the response and each quarantined record on its own line without --json', async () => {
    const result = await cli(['invoke', 'ingest-heartbeat', '--event', EVENTS.heartbeats, ...target]);

    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `ingest-heartbeat ran on ${EVENTS.heartbeats} (3 records) against table ${table.tableName}`,
      'response: {"batchItemFailures":[]}',
      'quarantined: 1 record',
      `  ${sequenceOf(EVENTS.heartbeats, 2)}  invalid heartbeat: seq: Invalid input: expected number, received string`,
      '',
    ]);
  });

  it('runs ingest-change-stream: moves the source head and quarantines the broken event', async () => {
    const result = await invoke('ingest-change-stream', EVENTS.changes);

    expect(result).toMatchObject({ records: 2, response: { batchItemFailures: [] } });
    expect(result.quarantined).toEqual([
      {
        sequenceNumber: sequenceOf(EVENTS.changes, 1),
        eventId: expect.stringContaining(String(sequenceOf(EVENTS.changes, 1))),
        reason: expect.stringMatching(/^change event is not valid JSON/),
      },
    ]);
    const heads = (await table.clusterItems('example-pg')).filter((i) => String(i.SK).startsWith('SOURCE#'));
    expect(heads).toEqual([expect.objectContaining({ SK: keys.sourceSk('default'), position: '0/303E000' })]);
  });

  it('runs on-transition on a stream record: opens the incident, prints its notification and the runbook it did not start', async () => {
    const result = await invoke('on-transition', EVENTS.transition);

    const image = load<DynamoDBStreamEvent>(EVENTS.transition).Records[0]?.dynamodb?.NewImage;
    expect(image?.transitionTo?.S).toBe('STALLED');
    expect(result.response).toEqual({ batchItemFailures: [] });
    expect(result.notifications).toEqual([
      expect.objectContaining({
        eventType: 'incident-opened',
        title: expect.stringContaining('example-pg/pg-2'),
      }),
    ]);
    const incidents = (await table.clusterItems('example-pg')).filter((i) =>
      String(i.SK).startsWith('INCIDENT#'),
    );
    expect(incidents).toEqual([expect.objectContaining({ state: 'OPEN', kind: 'STALLED', nodeId: 'pg-2' })]);
    expect(result.runbooks).toEqual([
      {
        incidentId: incidents[0]?.incidentId,
        runbook: 'replica-recovery',
        executionName: incidents[0]?.incidentId,
        started: false,
      },
    ]);

    // The same record again (a re-delivery): the incident already applied it, nothing is announced twice.
    const again = await invoke('on-transition', EVENTS.transition);
    expect(again).toMatchObject({ response: { batchItemFailures: [] }, notifications: [], runbooks: [] });
  });

  it("runs one sweep on the sweep machine's input: nodes whose heartbeats stopped are marked SILENT", async () => {
    await invoke('ingest-heartbeat', EVENTS.heartbeats);

    const result = await invoke('sweep', EVENTS.sweep);

    // The example's window is long past: its slots are over, the machine would end here.
    expect(result.response).toEqual({
      windowStart: '2026-11-22T23:05:00.000Z',
      index: 0,
      done: true,
      swept: { index: 0, at: expect.any(String), overdue: 2, marked: 2, lostRaces: 0 },
    });
    expect(await table.getNode('example-pg', 'pg-1')).toMatchObject({ status: 'SILENT' });
    expect(await table.getNode('example-pg', 'pg-2')).toMatchObject({ status: 'SILENT' });
  });

  it('exits 1 with the reason when the handler throws (here: the table does not exist)', async () => {
    const result = await cli([
      'invoke',
      'sweep',
      '--event',
      EVENTS.sweep,
      '--dynamodb-endpoint',
      localEndpoint(),
      '--table',
      `${table.tableName}-missing`,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^replica-sentinel: sweep failed: .*non-existent table/);
  });

  it.each([
    [
      'an unknown function',
      ['invoke', 'probe', '--event', EVENTS.heartbeats],
      "invoke: unknown function 'probe' (one of ingest-heartbeat, ingest-change-stream, on-transition, sweep)",
    ],
    [
      'no function',
      ['invoke', '--event', EVENTS.heartbeats],
      'invoke: give the function to run (ingest-heartbeat, ingest-change-stream, on-transition, sweep)',
    ],
    [
      'no event file',
      ['invoke', 'sweep'],
      "invoke sweep: --event FILE is required (the sweep state machine's input)",
    ],
    [
      'a Kinesis event given to sweep',
      ['invoke', 'sweep', '--event', EVENTS.heartbeats],
      expect.stringMatching(
        /^--event: local\/events\/ingest-heartbeat\.json is not the sweep state machine's input for sweep: \(top level\): Unrecognized key/,
      ),
    ],
    [
      'an unreadable event file',
      ['invoke', 'sweep', '--event', 'local/events/nope.json'],
      '--event: cannot read local/events/nope.json (ENOENT)',
    ],
    [
      'an event file that is not JSON',
      ['invoke', 'sweep', '--event', 'README.md'],
      expect.stringMatching(/^--event: README\.md is not valid JSON \(/),
    ],
    [
      'a Kinesis event given to on-transition',
      ['invoke', 'on-transition', '--event', EVENTS.heartbeats],
      expect.stringMatching(
        /^--event: local\/events\/ingest-heartbeat\.json is not a DynamoDB stream event for on-transition: Records\.0\.eventName: /,
      ),
    ],
    [
      'a stream event given to ingest-heartbeat',
      ['invoke', 'ingest-heartbeat', '--event', EVENTS.transition],
      expect.stringMatching(
        /^--event: local\/events\/on-transition\.json is not a Kinesis event for ingest-heartbeat: Records\.0\.eventSource: /,
      ),
    ],
  ])('rejects %s with one line on stderr and exit code 2', async (_name, args, message) => {
    const result = await cli([...args, ...target]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]?.replace(/^replica-sentinel: /, '')).toEqual(message);
  });

  it('prints its help with exit code 0', async () => {
    const result = await cli(['invoke', '--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('Usage: replica-sentinel invoke FUNCTION --event FILE');
  });
});

describe('replica-sentinel invoke against a running local stack', () => {
  let stack: LocalStack | undefined;
  afterEach(async () => {
    await stack?.stop();
  });

  it('finds the stack through REPLICA_SENTINEL_LOCAL_PORT, and the stack opens incidents for what it wrote', async () => {
    stack = await startLocalStack({ port: 0, print: () => undefined, sweepIntervalMs: 500 });
    const env = { ...process.env, REPLICA_SENTINEL_LOCAL_PORT: String(stack.port) };

    const result = await cli(['invoke', 'ingest-heartbeat', '--event', EVENTS.heartbeats, '--json'], env);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ response: { batchItemFailures: [] }, records: 3 });
    // The example's heartbeats are old: the stack's sweep marks both nodes SILENT and its on-transition
    // opens an incident for each; `incidents` (same target resolution) lists them.
    let incidents: { nodeId: string; kind: string }[] = [];
    for (let polls = 0; incidents.length < 2; polls++) {
      if (polls > 120) throw new Error(`the local stack opened ${incidents.length} incident(s), not 2`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      const listed = await cli(['incidents', '--cluster', 'example-pg', '--json'], env);
      if (listed.code === 0)
        incidents = (JSON.parse(listed.stdout) as { incidents: typeof incidents }).incidents;
    }
    expect(incidents.map((i) => [i.nodeId, i.kind]).sort()).toEqual([
      ['pg-1', 'SILENT'],
      ['pg-2', 'SILENT'],
    ]);
  });
});
