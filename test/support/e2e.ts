/**
 * End-to-end runs on real servers: the local stack (HTTP ingest → ingest handlers → DynamoDB Local → stream
 * poller → on-transition → incidents → runbooks from the synthesized state machines with the real built-in
 * hooks) fed by `watch`, which probes the servers every interval. The cluster runs in mode `auto`, with the
 * cluster configuration's policy fields set short so that a test takes seconds, not minutes.
 *
 * Everything is observed the way a user would: node statuses and incidents through the stack's
 * `GET /status` and `GET /incidents`, finished runbooks through its printed `[runbook]` lines. Conditions are
 * polled (waitFor), never slept for.
 */
import { afterAll, beforeAll, expect } from '@jest/globals';
import { documentClient } from '../../functions/adapters/clients';
import { ClusterConfigSchema } from '../../functions/core/config/schema';
import { executionNameFor, type Incident } from '../../functions/core/incidents';
import type { NodeState, NodeStatus } from '../../functions/core/node-state';
import type { PolicyOverrides } from '../../functions/core/policy';
import type { Engine } from '../../functions/core/position';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { localSink, watch } from '../../local/watch';
import type { ServerNode } from './servers';
import { clusterReader, pollFor } from './stack-reader';

/**
 * Thresholds a few probe rounds long. The probe reports every node each `heartbeatIntervalSeconds`; a
 * node it cannot reach for `heartbeatTimeoutSeconds` is silent; a replica behind its source that applied
 * nothing for `stallAfterSeconds` is STALLED. No cooldowns: the same cluster stalls, recovers and fails
 * over within one test.
 */
export const E2E_POLICY = {
  heartbeatIntervalSeconds: 1,
  heartbeatTimeoutSeconds: 5,
  stallAfterSeconds: 2,
  healthyStreak: 2,
  recoveryBlockSeconds: 0,
  incidentCooldownSeconds: 0,
} as const satisfies PolicyOverrides;

/** How long to wait for one step of the pipeline: generous, since the machine's cores are shared. */
const STEP_TIMEOUT_MS = 45_000;

export interface E2eOptions {
  readonly clusterId: string;
  readonly engine: Engine;
  /** The servers, primary first (roles are discovered by the probe, the order only names them). */
  readonly nodes: readonly ServerNode[];
  readonly policy?: PolicyOverrides;
}

export interface E2eRun {
  readonly stack: LocalStack;
  readonly clusterId: string;
  /** The node as the stack reports it now (`GET /status`). */
  node(nodeId: string): Promise<NodeState | undefined>;
  /** The cluster's incidents, oldest first (`GET /incidents`). */
  incidents(): Promise<Incident[]>;
  /** Waits until the node has `status`; returns the node then. */
  waitForStatus(nodeId: string, status: NodeStatus): Promise<NodeState>;
  /** Waits until the node, as the stack reports it, matches `match`; returns the node then. */
  waitForNode(what: string, nodeId: string, match: (node: NodeState) => boolean): Promise<NodeState>;
  /** Waits for an incident matching `match`; returns it then. */
  waitForIncident(what: string, match: (incident: Incident) => boolean): Promise<Incident>;
  /** Waits until the runbook run of the incident has finished; returns its printed line. */
  waitForRunbook(incident: Incident): Promise<string>;
  /** Everything the stack and watch printed, for the failure messages. */
  readonly output: readonly string[];
  stop(): Promise<void>;
}

/**
 * Starts a local stack and a `watch` of the cluster (mode auto, {@link E2E_POLICY} plus `policy`), and
 * resolves once the probe has reported every node. `stop()` ends both; the caller stops the servers.
 */
export async function startE2e(options: E2eOptions): Promise<E2eRun> {
  const output: string[] = [];
  const print = (line: string) => {
    output.push(line);
  };
  const stack = await startLocalStack({
    port: 0,
    print,
    sweepIntervalMs: 250,
    pollIntervalMs: 200,
    verifyAfterSeconds: 1,
  });
  const config = ClusterConfigSchema.parse({
    clusters: [
      {
        id: options.clusterId,
        engine: options.engine,
        mode: 'auto',
        nodes: options.nodes.map((node) => ({ id: node.nodeId, url: node.endpoint.url })),
        policy: { ...E2E_POLICY, ...options.policy },
      },
    ],
  });
  const client = documentClient({ ...LOCAL_AWS, endpoint: stack.dynamodbEndpoint });
  const abort = new AbortController();
  const watching = watch({
    config,
    client,
    tableName: stack.tableName,
    sink: localSink(stack.url),
    intervalMs: (config.clusters[0]?.policy.heartbeatIntervalSeconds ?? 1) * 1000,
    signal: abort.signal,
    print,
  }).catch((error: Error) => {
    print(`[e2e] watch stopped: ${error.message}`);
  });

  const { nodes, node, incidents } = clusterReader(stack.url, options.clusterId);
  /** Polls `find` until it returns something; the failure names what was awaited and what was printed. */
  const until = <T>(what: string, find: () => Promise<T | undefined>): Promise<T> =>
    pollFor(what, find, { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 100 }, async () => {
      const state = await nodes().catch(() => []);
      const seen = state.map((n) => `${n.nodeId} ${n.role} ${n.status} (${n.statusReason})`).join('\n  ');
      return `nodes:\n  ${seen}\nlast output:\n  ${output.slice(-25).join('\n  ')}`;
    });

  const run: E2eRun = {
    stack,
    clusterId: options.clusterId,
    output,
    node,
    incidents,
    waitForStatus: (nodeId, status) =>
      run.waitForNode(`${nodeId} to be ${status}`, nodeId, (node) => node.status === status),
    waitForNode: (what, nodeId, match) =>
      until(what, async () => {
        const node = await run.node(nodeId);
        return node !== undefined && match(node) ? node : undefined;
      }),
    waitForIncident: (what, match) => until(what, async () => (await incidents()).find(match)),
    waitForRunbook: (incident) =>
      until(`the ${incident.runbook ?? 'runbook'} run of ${incident.incidentId} to finish`, async () =>
        output.find((line) => line.startsWith(`[runbook] ${executionNameFor(incident)}: `)),
      ),
    async stop() {
      abort.abort();
      await watching;
      client.destroy();
      await stack.stop();
    },
  };
  try {
    for (const node of options.nodes) {
      await until(`the probe's first report of ${node.nodeId}`, async () => run.node(node.nodeId));
    }
  } catch (error) {
    await run.stop();
    throw error;
  }
  return run;
}

/** The servers of a describe block and the e2e run watching them, set by {@link useE2e}'s beforeAll. */
export interface E2eFixture<T> {
  readonly servers: T;
  readonly e2e: E2eRun;
}

/**
 * For a describe block: before its tests, starts the servers, lets `prepare` set them up and name the
 * cluster, and starts the e2e run on them; after its tests, stops both (also when a start failed half way).
 */
export function useE2e<T extends { stop(): Promise<void> }>(
  start: () => Promise<T>,
  prepare: (servers: T) => Promise<E2eOptions>,
): E2eFixture<T> {
  let servers: T | undefined;
  let e2e: E2eRun | undefined;
  beforeAll(async () => {
    servers = await start();
    e2e = await startE2e(await prepare(servers));
  });
  afterAll(async () => {
    await e2e?.stop();
    await servers?.stop();
  });
  const started = <V>(value: V | undefined): V => {
    if (value === undefined) throw new Error('the servers and the e2e run start in beforeAll');
    return value;
  };
  return {
    get servers() {
      return started(servers);
    },
    get e2e() {
      return started(e2e);
    },
  };
}

/** The steps the incident's runbook recorded, in order. */
export function stepsOf(incident: Incident): string[] {
  return (incident.runbookSteps ?? []).map((entry) => entry.step);
}

export interface IncidentRun {
  /** The incident as it was first seen (opened). */
  readonly opened: Incident;
  /** The `[runbook] <execution>: <status> (<states>)` line of its run. */
  readonly runbook: string;
  /** The incident once resolved, with the steps its runbook recorded. */
  readonly resolved: Incident;
}

/**
 * Waits for the incident of `kind` on `nodeId` to open, for its runbook run to finish and for the incident
 * to be resolved. What happened is returned for the test to check, not checked here.
 */
export async function incidentRun(e2e: E2eRun, nodeId: string, kind: Incident['kind']): Promise<IncidentRun> {
  const opened = await e2e.waitForIncident(
    `a ${kind} incident for ${nodeId}`,
    (i) => i.nodeId === nodeId && i.kind === kind,
  );
  const runbook = await e2e.waitForRunbook(opened);
  const resolved = await e2e.waitForIncident(
    `the ${kind} incident of ${nodeId} to be resolved`,
    (i) => i.incidentId === opened.incidentId && i.state !== 'OPEN',
  );
  return { opened, runbook, resolved };
}

/**
 * Checks what the pipeline recorded for a stall: the incident opened as STALLED for `reason`, handed to
 * the replica-recovery runbook, which restarted replication, saw progress and resolved the incident.
 */
export function expectStallRecovered(run: IncidentRun, reason: RegExp): void {
  expect(run.opened.timeline[0]).toMatchObject({ event: 'opened', to: 'STALLED' });
  expect(run.opened.timeline[0]?.reason).toMatch(reason);
  expect(run.opened.runbook).toBe('replica-recovery');
  expect(run.runbook).toContain(': SUCCEEDED (');
  expect(run.resolved.state).toBe('RESOLVED');
  expect(stepsOf(run.resolved)).toEqual(expect.arrayContaining(['restarted', 'progressing', 'completed']));
}

/**
 * Checks what the pipeline recorded for a dead primary: DEAD by the quorum views matching `reason`, the
 * primary-failover runbook ran through fencing and promotion to the end, the incident resolved. Returns
 * the promoted node's id.
 */
export function expectFailedOver(run: IncidentRun, reason: RegExp): string | undefined {
  expect(run.opened.runbook).toBe('primary-failover');
  expect(run.opened.timeline.at(-1)?.reason).toMatch(reason);
  expect(run.runbook).toContain(': SUCCEEDED (ReVerify → TakeLock → ChooseCandidate → Fence → Promote');
  expect(run.resolved.state).toBe('RESOLVED');
  return run.resolved.plan?.candidate;
}

/** Waits until the stack reports the node as a HEALTHY primary (the probe discovered its new role). */
export function waitForHealthyPrimary(e2e: E2eRun, nodeId: string): Promise<NodeState> {
  return e2e.waitForNode(
    `the stack to report ${nodeId} as a HEALTHY primary`,
    nodeId,
    (n) => n.role === 'primary' && n.status === 'HEALTHY',
  );
}
