import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { TABLE } from '../../functions/adapters/table-definition';
import { DEFAULT_POLICY } from '../../functions/core/policy';
import { createHandler as createSweep, type SweepOutcome } from '../../functions/sweep/handler';
import { standIn } from '../../infra/template-references';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../local/runbook-definitions';
// Imported for its side effect: the Promise.withResolvers polyfill aws-local-stepfunctions needs on Node 20.
import '../../local/step-functions-workarounds';
import { logicalIdOfConstruct, resources, testApp } from '../infra/support';
import { createTestTable, type TestTable } from '../support/dynamodb';
import { ingestOn } from '../support/handlers';
import { lsn, replicaHeartbeat, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';

const silent = silentLogger();
const context = lambdaContext('sweep');
const TIMEOUT_MS = DEFAULT_POLICY.heartbeatTimeoutSeconds * 1000;
type Json = Parameters<StateMachine['run']>[0];

/**
 * The sweep state machine as `cdk synth` builds it (infra/constructs/detector.ts), its CloudFormation
 * tokens replaced by placeholders, and the sweep function's SWEEP_INTERVAL_SECONDS from the same template.
 */
function synthesizedSweepMachine(): { definition: StateMachineDefinition; intervalSeconds: number } {
  const t = testApp({ bundling: false });
  try {
    const all = resources(Template.fromStack(t.stack));
    const machine = all[logicalIdOfConstruct(t.stack, t.stack.detector.sweepStateMachine)];
    const fn = all[logicalIdOfConstruct(t.stack, t.stack.detector.sweepFunction.fn)];
    const definition = machine?.Properties?.DefinitionString;
    const variables = (fn?.Properties?.Environment as { Variables: Record<string, string> } | undefined)
      ?.Variables;
    if (definition === undefined || variables === undefined)
      throw new Error('the sweep machine or the sweep function is not in the template');
    // Queues by their URL, functions by their ARN, in the local region and account.
    const standIns = Object.fromEntries(
      Object.entries(all).flatMap(([id, r]): [string, string][] =>
        r.Type === 'AWS::SQS::Queue'
          ? [[id, `https://sqs.${LOCAL_REGION}.amazonaws.com/${LOCAL_ACCOUNT}/${id}`]]
          : r.Type === 'AWS::Lambda::Function'
            ? [[`${id}.Arn`, `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${id}`]]
            : [],
      ),
    );
    const text = standIn(definition, standIns);
    return {
      definition: JSON.parse(text) as StateMachineDefinition,
      intervalSeconds: Number(variables.SWEEP_INTERVAL_SECONDS),
    };
  } finally {
    t.cleanup();
  }
}

/**
 * The sweep machine on the sweep handler and DynamoDB Local, on a virtual clock: a Wait until `at` is what
 * moves the clock (the engine's wait is overridden to 0 ms; the handler's input carries the `at` the machine
 * waited for). `fail(index, attempt)` makes an invocation throw before it sweeps.
 */
function machineRunner(table: TestTable, machine: ReturnType<typeof synthesizedSweepMachine>) {
  let now = 0;
  const sweep = createSweep(
    { index: table.store, store: table.store, shards: TABLE.sweepShards },
    { intervalSeconds: machine.intervalSeconds },
    { logger: silent, clock: () => now },
  );
  return async (
    windowStartMs: number,
    fail: (index: number, attempt: number) => boolean = () => false,
  ): Promise<{
    status: 'SUCCEEDED' | 'FAILED';
    answers: SweepOutcome[];
    attempts: number[];
    deadLetters: unknown[];
    error?: unknown;
  }> => {
    now = Math.max(now, windowStartMs);
    const answers: SweepOutcome[] = [];
    const attempts: number[] = [];
    const deadLetters: unknown[] = [];
    const execution = new StateMachine(machine.definition, {
      validationOptions: { checkPaths: true, checkArn: true },
    }).run({ windowStart: new Date(windowStartMs).toISOString() } as Json, {
      overrides: {
        taskResourceLocalHandlers: {
          SweepOnce: async (input: Json) => {
            const state = input as { at?: string; index?: number };
            if (state.at !== undefined) now = Math.max(now, Date.parse(state.at));
            const index = state.index ?? 0;
            attempts.push(index);
            if (fail(index, attempts.filter((i) => i === index).length)) {
              throw Object.assign(new Error(`sweep of slot ${index} failed`), {
                name: 'ThrottlingException',
              });
            }
            const answer = await sweep(input, context);
            answers.push(answer);
            return answer as unknown as Json;
          },
          RecordFailedSweep: async (input: Json) => {
            deadLetters.push(input);
            return { MessageId: 'local' } as Json;
          },
        },
        waitTimeOverrides: { WaitForNextSlot: 0 },
        retryIntervalOverrides: { SweepOnce: 0 },
      },
      context: { Execution: { Id: 'arn:aws:states:us-east-1:123456789012:express:sweep:test' } },
    });
    try {
      await execution.result;
      return { status: 'SUCCEEDED', answers, attempts, deadLetters };
    } catch (error) {
      if (!(error instanceof ExecutionError)) throw error;
      return { status: 'FAILED', answers, attempts, deadLetters, error: error.cause };
    }
  };
}

describe('the synthesized sweep state machine driving the sweep handler on DynamoDB Local', () => {
  // A table per test: a sweep sweeps the whole table, and each test counts what its sweeps marked.
  let table: TestTable;
  let machine: ReturnType<typeof synthesizedSweepMachine>;
  beforeAll(() => {
    machine = synthesizedSweepMachine();
  }, 300_000);
  beforeEach(async () => {
    table = await createTestTable('sweep-machine');
  });
  afterEach(async () => {
    await table.drop();
  });

  /** One replica per offset (ms from `windowStart`) whose deadline falls there: its one heartbeat is 30 s before. */
  async function nodesWithDeadlines(clusterId: string, windowStart: number, offsets: number[]) {
    const deadlines = new Map<string, number>();
    for (const [i, offset] of offsets.entries()) {
      const at = windowStart + offset - TIMEOUT_MS;
      const ingest = ingestOn(table, { logger: silent, clock: () => at });
      const hb = replicaHeartbeat({ clusterId, nodeId: `n${i}`, at, seq: 1, applied: lsn(5) });
      expect((await ingest(kinesisEvent([kinesisRecord(hb)]), context)).batchItemFailures).toEqual([]);
      const deadline = (await table.getNode(clusterId, `n${i}`))?.deadlineAt;
      expect(deadline).toBe(windowStart + offset);
      deadlines.set(`n${i}`, windowStart + offset);
    }
    return deadlines;
  }

  it('sweeps once per slot, every P seconds from the scheduled time, and marks each node at the first slot at or after its deadline', async () => {
    expect(machine.intervalSeconds).toBe(10);
    const run = machineRunner(table, machine);
    const w0 = T0 + 3_600_000;
    const offsets = [-1_000, 5_000, 10_000, 33_000, 59_000, 61_000, 130_000];
    const deadlines = await nodesWithDeadlines('slots', w0, offsets);

    const windows = [await run(w0), await run(w0 + 60_000)];

    const slots = [0, 1, 2, 3, 4, 5];
    for (const [w, window] of windows.entries()) {
      expect(window.status).toBe('SUCCEEDED');
      const start = w0 + w * 60_000;
      // One invocation per slot, each at its slot's time: no invocation waited inside the function.
      expect(window.attempts).toEqual(slots);
      expect(window.answers.map((a) => Date.parse(a.swept.at) - start)).toEqual(slots.map((s) => s * 10_000));
      expect(window.answers.map((a) => a.done)).toEqual([false, false, false, false, false, true]);
      // Each sweep marks the nodes whose deadline passed since the previous slot (the previous window's last).
      const marked = window.answers.map((a) => a.swept.marked);
      const expected = window.answers.map((a) => {
        const at = Date.parse(a.swept.at);
        return [...deadlines.values()].filter((d) => d <= at && d > at - 10_000).length;
      });
      expect(marked).toEqual(expected);
    }
    expect(windows.flatMap((w) => w.answers.map((a) => a.swept.marked))).toEqual([
      1, 2, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0,
    ]);
    // The bound: every node found within its deadline + one period, none before its deadline.
    const sweeps = windows.flatMap((w) => w.answers.map((a) => Date.parse(a.swept.at)));
    for (const [nodeId, deadline] of deadlines) {
      const node = await table.getNode('slots', nodeId);
      const due = sweeps.find((s) => s >= deadline);
      if (due === undefined) {
        expect([nodeId, node?.status]).toEqual([nodeId, 'HEALTHY']);
      } else {
        expect([nodeId, node?.status]).toEqual([nodeId, 'SILENT']);
        expect(due - deadline).toBeLessThanOrEqual(10_000);
      }
    }
  }, 120_000);

  it('retries a failed invocation within its slot and goes on with the window', async () => {
    const run = machineRunner(table, machine);
    const w0 = T0 + 7_200_000;
    await nodesWithDeadlines('retried', w0, [15_000]);

    const window = await run(w0, (index, attempt) => index === 2 && attempt === 1);

    expect(window.status).toBe('SUCCEEDED');
    expect(window.attempts).toEqual([0, 1, 2, 2, 3, 4, 5]);
    expect(window.answers.map((a) => a.swept.marked)).toEqual([0, 0, 1, 0, 0, 0]);
    expect(window.deadLetters).toEqual([]);
    expect((await table.getNode('retried', 'n0'))?.status).toBe('SILENT');
  }, 120_000);

  it('records a sweep that fails after its retries in the dead-letter queue and fails the execution; the next minute sweeps', async () => {
    const run = machineRunner(table, machine);
    const w0 = T0 + 9_000_000;
    await nodesWithDeadlines('failed', w0, [15_000]);

    const window = await run(w0, (index) => index === 1);

    expect(window.status).toBe('FAILED');
    expect(window.error).toMatchObject({ name: 'SweepFailed' });
    // The first attempt and two retries.
    expect(window.attempts).toEqual([0, 1, 1, 1]);
    // The sendMessage task's parameters: the queue is the sweep dead-letter queue of the template.
    expect(window.deadLetters).toEqual([
      {
        QueueUrl: expect.stringMatching(/\/DetectorSweepDeadLetters[0-9A-F]{8}$/),
        MessageBody: {
          reason: expect.stringMatching(/^sweep failed after its retries/),
          execution: 'arn:aws:states:us-east-1:123456789012:express:sweep:test',
          sweep: expect.objectContaining({
            windowStart: new Date(w0).toISOString(),
            index: 1,
            error: { Error: 'ThrottlingException', Cause: expect.stringContaining('sweep of slot 1 failed') },
          }),
        },
      },
    ]);
    expect((await table.getNode('failed', 'n0'))?.status).toBe('HEALTHY');

    const next = await run(w0 + 60_000);
    expect(next.status).toBe('SUCCEEDED');
    expect(next.answers[0]?.swept).toMatchObject({ index: 0, marked: 1 });
    expect((await table.getNode('failed', 'n0'))?.status).toBe('SILENT');
  }, 120_000);

  it('lets overlapping invocations mark a node once: the conditional write admits one of them', async () => {
    const w0 = T0 + 10_800_000;
    await nodesWithDeadlines('overlap', w0, [1_000]);
    const before = await table.getNode('overlap', 'n0');
    const sweep = createSweep(
      { index: table.store, store: table.store, shards: TABLE.sweepShards },
      { intervalSeconds: machine.intervalSeconds },
      { logger: silent, clock: () => w0 + 10_000 },
    );
    const answers = await Promise.all(
      [0, 1, 1].map((index) => sweep({ windowStart: new Date(w0).toISOString(), index }, context)),
    );
    expect(answers.reduce((sum, a) => sum + a.swept.marked, 0)).toBe(1);
    const after = await table.getNode('overlap', 'n0');
    expect(after).toMatchObject({ status: 'SILENT', version: (before?.version ?? 0) + 1 });
  }, 60_000);
});
