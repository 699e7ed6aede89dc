/**
 * `replica-sentinel invoke FUNCTION --event FILE`: runs one Lambda handler in this process on an event file,
 * the way `sam local invoke` does, with the real adapters on the target table (a local stack, a DynamoDB
 * endpoint, or a deployed stack's table). Prints the handler's response and what it quarantined.
 *
 * What stays local: the quarantine is kept in memory (local/memory-quarantine.ts) and printed; on-transition's
 * notifications are printed instead of published; its runbook hand-offs are printed and NOT started (a runbook
 * runs hooks against the real databases, which one invoked function should not do behind the operator's back;
 * `local up` runs them). The incident still records the hand-off as delivered, as a NoRunbookLauncher would.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBStreamSchema } from '@aws-lambda-powertools/parser/schemas/dynamodb';
import { KinesisDataStreamSchema } from '@aws-lambda-powertools/parser/schemas/kinesis';
import type { Context, DynamoDBStreamEvent, KinesisStreamEvent } from 'aws-lambda';
import type { z } from 'zod';
import { DynamoIncidentStore } from '../functions/adapters/incident-store';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import type { RunbookLauncher } from '../functions/adapters/runbooks';
import { TABLE } from '../functions/adapters/table-definition';
import { sweepIntervalSeconds } from '../functions/core/cadence';
import { executionNameFor } from '../functions/core/incidents';
import type { ChatbotNotification } from '../functions/core/notification';
import { createHandler as createChangeStream } from '../functions/ingest-change-stream/handler';
import { createHandler as createHeartbeat } from '../functions/ingest-heartbeat/handler';
import { createHandler as createOnTransition } from '../functions/on-transition/handler';
import { createHandler as createSweep, SweepInvocationSchema } from '../functions/sweep/handler';
import { resolveTable, TARGET_OPTIONS, targetHelp, UsageError } from './cli-common';
import { MemoryQuarantine } from './memory-quarantine';

type Io = { out: (text: string) => void; err: (text: string) => void };

const HELP = `Usage: replica-sentinel invoke FUNCTION --event FILE [--json] [target]

Runs one handler locally on an event file (like \`sam local invoke\`) against the target's table and
prints its response (batchItemFailures) and the records it quarantined (sequence number and reason).

  FUNCTION    ingest-heartbeat       a Kinesis event of heartbeats
              ingest-change-stream   a Kinesis event of change events (ours or Debezium's)
              on-transition          a DynamoDB stream event of the node-state table; the notifications
                                     are printed, the runbook hand-offs printed and not started
              sweep                  the sweep state machine's input ({ windowStart, index }); one sweep
                                     of the overdue nodes, answered with the window's next slot
  --event F   the event file (JSON, in the shape AWS delivers; examples in local/events/)
  --json      one JSON document: { function, event, response, quarantined, notifications, runbooks }
${targetHelp()}

Exit code 0 when the handler returned (partial failures included), 1 when it threw, 2 on bad usage.`;

interface FunctionSpec {
  readonly what: string;
  readonly schema: z.ZodType;
}

const FUNCTIONS: Record<string, FunctionSpec> = {
  'ingest-heartbeat': { what: 'a Kinesis event', schema: KinesisDataStreamSchema },
  'ingest-change-stream': { what: 'a Kinesis event', schema: KinesisDataStreamSchema },
  'on-transition': { what: 'a DynamoDB stream event', schema: DynamoDBStreamSchema },
  sweep: { what: "the sweep state machine's input", schema: SweepInvocationSchema.strict() },
};

/** The first problems of a schema check, each with the path of the field it is about. */
function problems(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map(String).join('.');
    return `${path || '(top level)'}: ${issue.message}`;
  });
  const more = error.issues.length > shown.length ? ` (and ${error.issues.length - shown.length} more)` : '';
  return `${shown.join('; ')}${more}`;
}

async function loadEvent(fn: string, spec: FunctionSpec, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `--event: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--event: ${file} is not valid JSON (${(error as Error).message})`);
  }
  const checked = spec.schema.safeParse(event);
  if (!checked.success) {
    throw new UsageError(`--event: ${file} is not ${spec.what} for ${fn}: ${problems(checked.error)}`);
  }
  // The handler gets the event as the file has it (the schema's transforms, e.g. base64 decoding, are not applied).
  return event;
}

export interface InvokeResult {
  readonly function: string;
  readonly event: string;
  readonly records?: number;
  readonly response: unknown;
  readonly quarantined: { sequenceNumber: string; eventId: string; reason: string }[];
  readonly notifications: { id: string; eventType: string; title: string; description: string }[];
  readonly runbooks: { incidentId: string; runbook: string; executionName: string; started: false }[];
}

export async function invokeCommand(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      ...TARGET_OPTIONS,
      event: { type: 'string', short: 'e' },
    },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const fn = positionals[0];
  const names = Object.keys(FUNCTIONS).join(', ');
  if (!fn) throw new UsageError(`invoke: give the function to run (${names})`);
  if (positionals.length > 1) throw new UsageError(`invoke: unexpected argument '${positionals[1]}'`);
  const spec = FUNCTIONS[fn];
  if (!spec) throw new UsageError(`invoke: unknown function '${fn}' (one of ${names})`);
  if (!values.event) throw new UsageError(`invoke ${fn}: --event FILE is required (${spec.what})`);
  const event = await loadEvent(fn, spec, values.event);

  const { client, tableName } = await resolveTable(values, env);
  // Warnings and errors go to stderr; info logs would mix with the output on stdout.
  const logger = new Logger({ serviceName: fn, logLevel: 'WARN' });
  const store = new DynamoNodeStateStore(client, tableName, logger);
  const quarantine = new MemoryQuarantine();
  const notifications: ChatbotNotification[] = [];
  const runbooks: InvokeResult['runbooks'] = [];
  const launcher: RunbookLauncher = {
    async start(incident) {
      const executionName = executionNameFor(incident);
      runbooks.push({
        incidentId: incident.incidentId,
        runbook: incident.runbook ?? '(none)',
        executionName,
        started: false,
      });
      return { note: `${incident.runbook} ${executionName} not started: invoke runs one function only` };
    },
  };
  const context = {
    functionName: `replica-sentinel-${fn}`,
    functionVersion: '$LATEST',
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => 900_000,
  } as Context;

  let response: unknown;
  try {
    if (fn === 'ingest-heartbeat') {
      const handler = createHeartbeat({ store, quarantine, sweepShards: TABLE.sweepShards }, { logger });
      response = await handler(event as KinesisStreamEvent, context);
    } else if (fn === 'ingest-change-stream') {
      const handler = createChangeStream({ store, quarantine }, { logger });
      response = await handler(event as KinesisStreamEvent, context);
    } else if (fn === 'on-transition') {
      const handler = createOnTransition(
        {
          incidents: new DynamoIncidentStore(client, tableName),
          nodes: store,
          notifier: { publish: async (n) => void notifications.push(n) },
          runbooks: launcher,
        },
        { logger },
      );
      response = await handler(event as DynamoDBStreamEvent, context);
    } else {
      // One sweep, as the sweep state machine invokes it; the next slot follows the default cadence.
      const handler = createSweep(
        { index: store, store, shards: TABLE.sweepShards },
        { intervalSeconds: sweepIntervalSeconds([]) },
        { logger },
      );
      response = await handler(event, context);
    }
  } catch (error) {
    io.err(`replica-sentinel: ${fn} failed: ${(error as Error).message.split('\n')[0]}`);
    return 1;
  } finally {
    client.destroy();
  }

  const records = (event as { Records?: unknown[] }).Records?.length;
  const result: InvokeResult = {
    function: fn,
    event: values.event,
    ...(records !== undefined ? { records } : {}),
    response,
    quarantined: quarantine.records.map((q) => ({
      sequenceNumber: q.sequenceNumber,
      eventId: q.eventId,
      reason: q.reason,
    })),
    notifications: notifications.map((n) => ({
      id: n.id,
      eventType: n.metadata.eventType,
      title: n.content.title,
      description: n.content.description,
    })),
    runbooks,
  };
  io.out(values.json ? JSON.stringify(result) : describe(result, tableName));
  return 0;
}

function describe(result: InvokeResult, tableName: string): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [
    `${result.function} ran on ${result.event}${result.records !== undefined ? ` (${plural(result.records, 'record')})` : ''} against table ${tableName}`,
    `response: ${JSON.stringify(result.response)}`,
  ];
  if (result.function.startsWith('ingest-')) {
    lines.push(`quarantined: ${plural(result.quarantined.length, 'record')}`);
    for (const q of result.quarantined) lines.push(`  ${q.sequenceNumber}  ${q.reason}`);
  }
  if (result.function === 'on-transition') {
    lines.push(`notifications: ${result.notifications.length}`);
    for (const n of result.notifications) lines.push(`  [${n.eventType}] ${n.title}`);
    lines.push(`runbook hand-offs (printed, not started): ${result.runbooks.length}`);
    for (const r of result.runbooks)
      lines.push(`  ${r.runbook} as execution ${r.executionName} (incident ${r.incidentId})`);
  }
  return lines.join('\n');
}
