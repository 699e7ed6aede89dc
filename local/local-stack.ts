/**
 * Local mode (docs/DESIGN.md §7): the whole pipeline in one process against DynamoDB Local, the same handlers as
 * in AWS, only the transports differ:
 * - heartbeats and change events arrive over HTTP (`POST /heartbeats`, `POST /change-events`: one wire object
 *   or an array) and reach the ingest handlers as Kinesis events;
 * - the table stream is polled through the DynamoDB Streams API, filtered like the CDK event source mapping,
 *   and handed to on-transition;
 * - the sweep handler is invoked on a timer, one sweep per invocation as the sweep state machine invokes it
 *   in AWS (the machine's Wait is the timer here: its period follows the clusters' policies, and may be
 *   under a second for tests);
 * - runbooks run from the synthesized state machines (local/runbook-runner.ts) with the real steps and hooks;
 * - the operator API's routes (functions/core/operator-routes.ts: approve, reject and the other operator
 *   actions) are served on the same port, the caller being `local:<x-replica-sentinel-user header>`;
 * - notifications are printed, and posted to a Slack incoming webhook when one is given.
 * `GET /info` tells CLI commands where the table is; `GET /status` and `GET /incidents` read it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { documentClient } from '../functions/adapters/clients';
import { clusterPolicies } from '../functions/adapters/cluster-config-store';
import { localCredentials } from '../functions/adapters/hooks';
import { DynamoIncidentStore } from '../functions/adapters/incident-store';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import type { Notifier } from '../functions/adapters/notifier';
import { OperatorStore } from '../functions/adapters/operator-store';
import { recoveryHooks } from '../functions/adapters/recovery-hooks';
import { RecoveryStore } from '../functions/adapters/recovery-store';
import { postToSlack } from '../functions/adapters/slack';
import { keys, TABLE, TRANSITION_FILTER_PATTERN } from '../functions/adapters/table-definition';
import { sweepIntervalSeconds } from '../functions/core/cadence';
import type { Transition } from '../functions/core/incidents';
import type { ChatbotNotification } from '../functions/core/notification';
import { slackMessage } from '../functions/core/notification';
import { dispatch, matchRoute } from '../functions/core/operator-routes';
import type { ApprovalDecision } from '../functions/core/runbook';
import { createHandler as createChangeHandler } from '../functions/ingest-change-stream/handler';
import { createHandler as createHeartbeatHandler } from '../functions/ingest-heartbeat/handler';
import { createHandler as createOnTransition } from '../functions/on-transition/handler';
import { transitionOf } from '../functions/on-transition/transition';
import { createOperations } from '../functions/operator/operations';
import { createHandler as createSteps } from '../functions/runbook-steps/handler';
import { createHandler as createSweepHandler } from '../functions/sweep/handler';
import {
  createNodeStateTable,
  type DynamoDbLocal,
  LOCAL_AWS,
  LOCAL_TABLE_NAME,
  startDynamoDbLocal,
} from './dynamodb-local';
import { matchesFilter } from './event-filter';
import { kinesisRecord } from './kinesis-records';
import { MemoryQuarantine } from './memory-quarantine';
import { LocalRunbookLauncher } from './runbook-launcher';
import type { RunbookRun } from './runbook-runner';
import { StreamPoller } from './stream-poller';

export interface LocalStackOptions {
  /** HTTP port of the local stack (0: any free port). */
  readonly port: number;
  /** Period of the sweep. @default a third of the smallest heartbeatTimeoutSeconds of the table's clusters (functions/core/cadence.ts) */
  readonly sweepIntervalMs?: number;
  readonly pollIntervalMs?: number;
  readonly slackWebhookUrl?: string;
  readonly print?: (line: string) => void;
  /** Seconds the replica-recovery runbook waits after restarting replication before it checks progress. @default 30 */
  readonly verifyAfterSeconds?: number;
  /** Called with every status change the table stream delivers to on-transition (the demo's timeline). */
  readonly onTransition?: (transition: Transition) => void;
  /** Called when a runbook run ends, with its execution name (the incident id). */
  readonly onRunbookFinished?: (executionName: string, run: RunbookRun) => void;
  /**
   * A DynamoDB Local already running (the chaos suite shares one across its scenarios: starting one takes
   * seconds) and the table to create in it; stop() leaves it running. @default - start one, table
   * `replica-sentinel`
   */
  readonly dynamodb?: { readonly endpoint: string; readonly tableName: string };
}

export interface LocalStack {
  readonly url: string;
  readonly port: number;
  readonly dynamodbEndpoint: string;
  /** The DynamoDB Local (java) process this stack started, stopped by stop(); none when given one. */
  readonly dynamodbPid?: number;
  readonly tableName: string;
  readonly notifications: ChatbotNotification[];
  readonly quarantine: MemoryQuarantine;
  stop(): Promise<void>;
}

const context = (name: string) =>
  ({ functionName: name, awsRequestId: 'local', getRemainingTimeInMillis: () => 60_000 }) as Context;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const print = options.print ?? ((line: string) => console.log(line));
  const logger = new Logger({ serviceName: 'local', logLevel: 'WARN' });
  let ddb: DynamoDbLocal | undefined = options.dynamodb ? undefined : await startDynamoDbLocal();
  const endpoint = options.dynamodb?.endpoint ?? (ddb as DynamoDbLocal).endpoint;
  const tableName = options.dynamodb?.tableName ?? LOCAL_TABLE_NAME;
  await createNodeStateTable(endpoint, tableName);
  const client = documentClient({ ...LOCAL_AWS, endpoint });
  const store = new DynamoNodeStateStore(client, tableName, logger);
  const recovery = new RecoveryStore(client, tableName);
  const quarantine = new MemoryQuarantine();
  const notifications: ChatbotNotification[] = [];
  const notifier: Notifier = {
    async publish(n) {
      notifications.push(n);
      print(
        `[alert] ${n.content.title}${n.metadata.eventType.startsWith('runbook-') ? ` — ${n.content.description}` : ''}`,
      );
      if (options.slackWebhookUrl) {
        await postToSlack(options.slackWebhookUrl, slackMessage(n)).catch((error: Error) =>
          print(`[alert] Slack post failed: ${error.message}`),
        );
      }
    },
  };
  const pending = new Map<string, (decision: ApprovalDecision) => void>();
  const steps = createSteps(
    {
      recovery,
      nodes: store,
      hooks: recoveryHooks({ credentials: localCredentials }),
      notifier,
      clock: Date.now,
      verifyAfterSeconds: options.verifyAfterSeconds,
    },
    { logger },
  );
  const runbooks = new LocalRunbookLauncher({
    steps: (payload) => steps(payload as Parameters<typeof steps>[0], context('runbook-steps')),
    approvals: (token, _state, signal) =>
      new Promise<ApprovalDecision>((resolve, reject) => {
        pending.set(token, resolve);
        signal.addEventListener('abort', () => {
          pending.delete(token);
          reject(new Error('approval wait aborted'));
        });
      }),
    onFinished: (name, run) => {
      print(`[runbook] ${name}: ${run.status} (${run.states.join(' → ')})`);
      options.onRunbookFinished?.(name, run);
    },
  });
  const operations = createOperations({
    recovery,
    store: new OperatorStore(client, tableName),
    nodes: store,
    executions: runbooks,
    notifier,
    tokens: {
      succeed: async (token, decision) => {
        const resolve = pending.get(token);
        if (!resolve) throw Object.assign(new Error('no such task'), { name: 'TaskDoesNotExist' });
        pending.delete(token);
        resolve(decision);
      },
    },
    clock: Date.now,
    switchover: {
      recovery,
      nodes: store,
      incidents: new DynamoIncidentStore(client, tableName),
      launcher: runbooks,
      clock: Date.now,
    },
    nodeRequests: { incidents: new DynamoIncidentStore(client, tableName), launcher: runbooks },
    runbooks: { incidents: new DynamoIncidentStore(client, tableName), launcher: runbooks },
  });
  const heartbeats = createHeartbeatHandler(
    { store, quarantine, sweepShards: TABLE.sweepShards },
    { logger },
  );
  const changes = createChangeHandler({ store, quarantine }, { logger });
  const onTransition = createOnTransition(
    { incidents: new DynamoIncidentStore(client, tableName), nodes: store, notifier, runbooks },
    { logger },
  );
  const poller = new StreamPoller(endpoint, tableName);
  await poller.start('TRIM_HORIZON');

  let stopping = false;
  const loop = (what: string, everyMs: number | (() => number), work: () => Promise<void>) => {
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      if (stopping) return;
      try {
        await work();
      } catch (error) {
        if (!stopping) print(`[local] ${what} failed: ${(error as Error).message}`);
      }
      if (!stopping) timer = setTimeout(tick, typeof everyMs === 'number' ? everyMs : everyMs());
    };
    timer = setTimeout(tick, 0);
    return () => clearTimeout(timer);
  };
  const stopPoll = loop('stream poll', options.pollIntervalMs ?? 500, async () => {
    const records = (await poller.poll()).filter((r) => matchesFilter(TRANSITION_FILTER_PATTERN, r));
    if (records.length > 0) {
      if (options.onTransition) {
        for (const record of records) {
          const change = transitionOf(record);
          if (change) options.onTransition(change.transition);
        }
      }
      const response = await onTransition({ Records: records }, context('on-transition'));
      if (response.batchItemFailures.length > 0)
        print(`[local] on-transition reported ${response.batchItemFailures.length} failure(s)`);
    }
  });
  // Unless given, the sweep period follows the clusters' policies (functions/core/cadence.ts), read
  // again before each sweep: a cluster applied by `watch` with a short timeout is swept at its pace.
  // Each tick is one invocation of the deployed handler in a window of its own (`{}`: it begins now);
  // the next slot it answers is for the state machine, which the timer stands in for.
  let sweepPeriodMs = options.sweepIntervalMs ?? sweepIntervalSeconds([]) * 1000;
  const sweep = createSweepHandler(
    { index: store, store, shards: TABLE.sweepShards },
    { intervalSeconds: sweepIntervalSeconds([]) },
    { logger },
  );
  const stopSweep = loop(
    'sweep',
    () => sweepPeriodMs,
    async () => {
      await sweep({}, context('sweep'));
      if (options.sweepIntervalMs === undefined)
        sweepPeriodMs = sweepIntervalSeconds(await clusterPolicies(client, tableName)) * 1000;
    },
  );

  const ingest = async (req: IncomingMessage, kind: 'heartbeats' | 'change-events') => {
    const text = await readBody(req);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Broken JSON still goes through the handler, which quarantines it with its reason, as in AWS.
      parsed = undefined;
    }
    const items = parsed === undefined ? [text] : Array.isArray(parsed) ? parsed : [parsed];
    const records = items.map((item) =>
      kinesisRecord(
        typeof item === 'string' ? item : (item as object),
        String((item as { nodeId?: unknown })?.nodeId ?? 'local'),
      ),
    );
    const handler = kind === 'heartbeats' ? heartbeats : changes;
    const before = quarantine.records.length;
    const response = await handler({ Records: records }, context(`ingest-${kind}`));
    return {
      accepted: records.length,
      quarantined: quarantine.records.slice(before).map((q) => q.reason),
      failures: response.batchItemFailures.length,
    };
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://local');
      try {
        if (req.method === 'POST' && url.pathname === '/heartbeats')
          return send(res, 200, await ingest(req, 'heartbeats'));
        if (req.method === 'POST' && url.pathname === '/change-events')
          return send(res, 200, await ingest(req, 'change-events'));
        if (req.method === 'GET' && url.pathname === '/info') {
          return send(res, 200, { dynamodbEndpoint: endpoint, tableName, region: LOCAL_AWS.region });
        }
        if (req.method === 'GET' && url.pathname === '/status') {
          const clusterId = url.searchParams.get('cluster');
          const items = await allItems(clusterId);
          return send(res, 200, { nodes: items.filter((i) => i.type === 'node') });
        }
        if (req.method === 'GET' && url.pathname === '/incidents') {
          const items = await allItems(url.searchParams.get('cluster'));
          return send(res, 200, { incidents: items.filter((i) => i.type === 'incident') });
        }
        const operation = matchRoute(req.method ?? '', url.pathname);
        if (operation) {
          const user = req.headers['x-replica-sentinel-user'];
          const caller = `local:${typeof user === 'string' && user !== '' ? user : 'operator'}`;
          const result = await dispatch(
            operations,
            operation.operation,
            operation.params,
            await readBody(req),
            { id: caller, via: 'local' },
          );
          return send(res, 200, { ...result, by: caller });
        }
        send(res, 404, { message: `no route for ${req.method} ${url.pathname}` });
      } catch (error) {
        const status = (error as { status?: number }).status ?? 500;
        send(res, status, { message: (error as Error).message });
      }
    })();
  });

  /** Every item of one cluster, or of every cluster (a Scan is fine on a laptop's table). */
  async function allItems(clusterId: string | null): Promise<Record<string, unknown>[]> {
    if (clusterId) {
      const { Items } = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId) },
        }),
      );
      return Items ?? [];
    }
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Items } = await client.send(new ScanCommand({ TableName: tableName }));
    return Items ?? [];
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dynamodbEndpoint: endpoint,
    ...(ddb ? { dynamodbPid: ddb.pid } : {}),
    tableName,
    notifications,
    quarantine,
    async stop() {
      stopping = true;
      stopPoll();
      stopSweep();
      for (const resolve of pending.values()) resolve({ approved: false, by: 'local stack stopping' });
      // A runbook mid-way (a failover retrying a hook against a dead server) ends ABORTED, not waited out.
      runbooks.abort();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runbooks.settled().catch(() => undefined);
      poller.close();
      client.destroy();
      await ddb?.stop();
      ddb = undefined;
    },
  };
}
