import { documentClient } from '../../../functions/adapters/clients';
import { ClusterConfigSchema } from '../../../functions/core/config/schema';
import { executionNameFor, type Incident } from '../../../functions/core/incidents';
import type { NodeState } from '../../../functions/core/node-state';
import type { ChatbotNotification } from '../../../functions/core/notification';
import type { PolicyOverrides } from '../../../functions/core/policy';
import { LOCAL_AWS } from '../../../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../../../local/local-stack';
import { LOOPBACK } from '../../../local/server-processes';
import { type HeartbeatSink, localSink, watch } from '../../../local/watch';
import { DDB_ENDPOINT_ENV } from '../../support/paths';
import { clusterReader, pollFor } from '../../support/stack-reader';
import type { ChaosEngine } from './engines';
import type { ChaosNode } from './topology';

/**
 * 1 s heartbeats, a 5 s timeout (2 s more than the demo's: margin for a loaded CI machine), quorum 2, no
 * cooldowns unless a scenario sets one: the product's own knobs, as a user would set them for a
 * fast-moving cluster.
 */
export const CHAOS_POLICY = {
  heartbeatIntervalSeconds: 1,
  heartbeatTimeoutSeconds: 5,
  stallAfterSeconds: 3,
  healthyStreak: 2,
  quorum: 2,
  recoveryBlockSeconds: 0,
  incidentCooldownSeconds: 0,
} as const satisfies PolicyOverrides;

/** How long one step of the pipeline may take on a shared 2-core machine: generous, never slept for. */
export const STEP_TIMEOUT_MS = 45_000;

/** How long the stack may take to see every node HEALTHY at the start of a scenario. */
const STARTUP_TIMEOUT_MS = 120_000;

/** An incident with the fields runbook-steps adds to the item (not all of them typed on Incident). */
export type ChaosIncident = Incident & { readonly outcome?: string };

export interface ChaosStackOptions {
  readonly clusterId: string;
  readonly engine: ChaosEngine;
  readonly mode: 'auto' | 'approve';
  readonly nodes: readonly ChaosNode[];
  /** Per node: never promote it, its priority. */
  readonly nodeOptions?: Readonly<Record<string, { noPromote?: boolean; priority?: number }>>;
  readonly policy?: PolicyOverrides;
  /** The cluster's `fencing` (issue 11); left out of the configuration when undefined. */
  readonly fencing?: 'strict' | 'trust-quorum';
  /** The cluster's `hooks` section, as in the configuration file. */
  readonly hooks?: Readonly<Record<string, unknown>>;
  /** The replica-recovery runbook's wait before checking progress. @default 2 */
  readonly verifyAfterSeconds?: number;
}

export interface ChaosStack {
  readonly stack: LocalStack;
  readonly clusterId: string;
  readonly mode: 'auto' | 'approve';
  /** Everything the stack and watch printed. */
  readonly output: readonly string[];
  /** The same, each line with its time (written next to the results when a scenario fails). */
  readonly log: readonly string[];
  readonly notifications: readonly ChatbotNotification[];
  nodes(): Promise<NodeState[]>;
  node(nodeId: string): Promise<NodeState | undefined>;
  /** Oldest first. */
  incidents(): Promise<ChaosIncident[]>;
  /** Polls `find` until it returns something (deadline {@link STEP_TIMEOUT_MS}); the failure shows the state. */
  until<T>(what: string, find: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  waitForIncident(
    what: string,
    match: (i: ChaosIncident) => boolean,
    timeoutMs?: number,
  ): Promise<ChaosIncident>;
  waitForNode(what: string, nodeId: string, match: (n: NodeState) => boolean): Promise<NodeState>;
  /** The `[runbook] <execution>: STATUS (...)` line of the incident's run, once it finished. */
  runbookLine(incident: Pick<Incident, 'incidentId' | 'flaps'>): string | undefined;
  waitForRunbook(incident: Pick<Incident, 'incidentId' | 'flaps'>): Promise<string>;
  /** `POST /incidents/{cluster}/{incident}/approve` (or reject), as `replica-sentinel approve` does locally. */
  decide(incidentId: string, approved: boolean): Promise<Record<string, unknown>>;
  /** Puts a line in the output, e.g. the fault the scenario just caused. */
  mark(text: string): void;
  /** The state of the nodes and the last lines printed, for failure messages. */
  describe(): Promise<string>;
  stop(): Promise<void>;
}

/** The stack's ingest, printing each round's heartbeats and how long the ingest took (slow rounds show). */
function timedSink(sink: HeartbeatSink, print: (line: string) => void): HeartbeatSink {
  return {
    async send(heartbeats) {
      const started = Date.now();
      const result = await sink.send(heartbeats);
      const seen = heartbeats.map(
        (h) => `${h.nodeId}${h.reachable === false ? ' unreachable' : ` ${h.role}`}`,
      );
      print(`[chaos] heartbeats ${seen.join(', ')} ingested in ${Date.now() - started} ms`);
      return result;
    },
  };
}

let tables = 0;

/**
 * The local stack (DynamoDB Local, ingest, stream → on-transition, sweep, runbooks from the synthesized
 * template with the built-in hooks) and `watch` probing the nodes at their network addresses (the proxies)
 * every heartbeat interval, the cluster in `mode` from a configuration file's content. Resolves once every
 * node was reported HEALTHY.
 */
export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const output: string[] = [];
  const log: string[] = [];
  const print = (line: string) => {
    output.push(line);
    log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  };
  // The run's DynamoDB Local (started once by the project's global setup), a table per scenario.
  const shared = process.env[DDB_ENDPOINT_ENV];
  const stack = await startLocalStack({
    port: 0,
    ...(shared
      ? { dynamodb: { endpoint: shared, tableName: `chaos-${options.clusterId}-${process.pid}-${++tables}` } }
      : {}),
    print,
    // The demo's cadence: the sweep every heartbeat interval, the table stream twice as often.
    sweepIntervalMs: 500,
    pollIntervalMs: 250,
    verifyAfterSeconds: options.verifyAfterSeconds ?? 2,
  });
  const policy = { ...CHAOS_POLICY, ...options.policy };
  let client: ReturnType<typeof documentClient> | undefined;
  const abort = new AbortController();
  let watching: Promise<unknown> = Promise.resolve();
  try {
    const cluster: Record<string, unknown> = {
      id: options.clusterId,
      engine: options.engine,
      mode: options.mode,
      nodes: options.nodes.map((node) => ({
        id: node.nodeId,
        url: node.url,
        ...options.nodeOptions?.[node.nodeId],
      })),
      policy,
    };
    if (options.fencing !== undefined) cluster.fencing = options.fencing;
    if (options.hooks !== undefined) cluster.hooks = options.hooks;
    const config = ClusterConfigSchema.parse({ clusters: [cluster] });
    client = documentClient({ ...LOCAL_AWS, endpoint: stack.dynamodbEndpoint });
    watching = watch({
      config,
      client,
      tableName: stack.tableName,
      sink: timedSink(localSink(stack.url), print),
      intervalMs: policy.heartbeatIntervalSeconds * 1000,
      signal: abort.signal,
      print,
    }).catch((error: Error) => print(`[chaos] watch stopped: ${error.message}`));
  } catch (error) {
    await stack.stop();
    throw error;
  }

  const { nodes, node, incidents } = clusterReader<ChaosIncident>(
    stack.url.replace('localhost', LOOPBACK),
    options.clusterId,
  );
  const describe = async () => {
    const state = await nodes().catch(() => [] as NodeState[]);
    const open = await incidents().catch(() => [] as ChaosIncident[]);
    return [
      'nodes:',
      ...state.map((n) => `  ${n.nodeId} ${n.role} ${n.status} (${n.statusReason})`),
      'incidents:',
      ...open.map(
        (i) =>
          `  ${i.incidentId} ${i.nodeId} ${i.kind} ${i.state} ${i.outcome ?? ''} steps: ${(i.runbookSteps ?? []).map((s) => s.step).join(', ')}`,
      ),
      'last output:',
      ...log.slice(-30).map((line) => `  ${line}`),
    ].join('\n');
  };
  const until = <T>(what: string, find: () => Promise<T | undefined>, timeoutMs = STEP_TIMEOUT_MS) =>
    pollFor(what, find, { timeoutMs, intervalMs: 150 }, describe);
  const runbookLine = (incident: Pick<Incident, 'incidentId' | 'flaps'>) => {
    const prefix = `[runbook] ${executionNameFor(incident)}: `;
    return output.find((line) => line.startsWith(prefix));
  };
  const run: ChaosStack = {
    stack,
    clusterId: options.clusterId,
    mode: options.mode,
    output,
    log,
    notifications: stack.notifications,
    nodes,
    node,
    incidents,
    until,
    waitForIncident: (what, match, timeoutMs) =>
      until(what, async () => (await incidents()).find(match), timeoutMs),
    waitForNode: (what, nodeId, match) =>
      until(what, async () => {
        const node = await run.node(nodeId);
        return node !== undefined && match(node) ? node : undefined;
      }),
    runbookLine,
    waitForRunbook: (incident) =>
      until(`the runbook run of ${incident.incidentId} to finish`, async () => runbookLine(incident)),
    async decide(incidentId, approved) {
      const response = await fetch(
        new URL(
          `/incidents/${encodeURIComponent(options.clusterId)}/${encodeURIComponent(incidentId)}/${approved ? 'approve' : 'reject'}`,
          stack.url,
        ),
        { method: 'POST', headers: { 'x-replica-sentinel-user': 'chaos' }, body: '' },
      );
      const body = (await response.json()) as Record<string, unknown>;
      if (!response.ok) throw new Error(`decision refused: HTTP ${response.status} ${JSON.stringify(body)}`);
      return body;
    },
    describe,
    mark: (text) => print(`[chaos] ${text}`),
    async stop() {
      abort.abort();
      await watching;
      client?.destroy();
      await stack.stop();
    },
  };
  try {
    for (const node of options.nodes) {
      // Generous: on a loaded machine a probe can miss its deadline, and HEALTHY needs a streak of reports.
      await run.until(
        `the probe's first HEALTHY report of ${node.nodeId}`,
        async () => {
          const found = await run.node(node.nodeId);
          return found?.status === 'HEALTHY' ? found : undefined;
        },
        STARTUP_TIMEOUT_MS,
      );
    }
  } catch (error) {
    await run.stop();
    throw error;
  }
  return run;
}
