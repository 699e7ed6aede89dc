/**
 * `replica-sentinel demo` (`npm run demo`): the whole product on one laptop against real Redis servers.
 *
 * 1. Starts a Redis primary and two replicas on free loopback ports, and the local stack (DynamoDB Local,
 *    the handlers, the table stream, the sweep, the runbooks from the synthesized state machines).
 * 2. Applies a cluster configuration (mode `auto`, a policy with short timeouts) and runs `watch`, which
 *    probes the three servers every second and feeds their heartbeats in.
 * 3. Stalls a replica with `CLIENT PAUSE <ms> WRITE`: it keeps receiving the replication stream (its
 *    `slave_read_repl_offset` advances, the link stays up) but applies nothing (`slave_repl_offset` stays),
 *    while the primary keeps taking writes (the probe's heartbeat key). Checked on Redis 7.0. The pipeline
 *    marks it STALLED; the replica-recovery runbook restarts its replication (CLIENT UNPAUSE) and it turns
 *    HEALTHY again.
 * 4. SIGKILLs the primary: the replicas report their link down, the sweep finds the primary SILENT, then
 *    DEAD by quorum; the primary-failover runbook fences it, promotes the most advanced replica and repoints
 *    the other. The demo then checks the result on the servers themselves (INFO replication).
 *
 * Returns the summary and the timeline; the `demo` command (local/cli-demo.ts) prints them, or one JSON
 * object with `--json`. Every process it started is stopped in a finally, also on Ctrl-C / SIGTERM. Without
 * redis-server on PATH the command says how to install it and runs the SIMULATED demo (local/demo.ts) instead.
 */
import { documentClient } from '../functions/adapters/clients';
import { parseClusterConfig } from '../functions/core/config/parse';
import type { Incident, RunbookStepEntry, Transition } from '../functions/core/incidents';
import type { PolicyOverrides } from '../functions/core/policy';
import type { HeartbeatInput } from '../functions/core/wire';
import { LOCAL_AWS } from './dynamodb-local';
import { type LocalStack, startLocalStack } from './local-stack';
import { follows, type RedisTopology, redisCommand, redisInfo, startRedisTopology } from './redis-servers';
import { loadRunbookDefinitions } from './runbook-definitions';
import type { RunbookRun } from './runbook-runner';
import { type ServerNode, waitFor } from './server-processes';
import { type HeartbeatSink, localSink, watch } from './watch';

export const DEMO_CLUSTER = 'demo-redis';

/**
 * The demo cluster's policy: the product's own knobs (docs/DESIGN.md §3b), turned down so that the whole demo
 * takes seconds. The rest keep their defaults (a replica's recovery starts no cooldown: the failover may
 * follow it at once).
 */
export const DEMO_POLICY = {
  heartbeatIntervalSeconds: 1,
  heartbeatTimeoutSeconds: 3,
  stallAfterSeconds: 3,
  healthyStreak: 2,
  quorum: 2,
} as const satisfies PolicyOverrides;

/** How often the demo's `watch` probes the servers, and the sweep runs: the policy's heartbeat interval. */
const INTERVAL_MS = DEMO_POLICY.heartbeatIntervalSeconds * 1000;
/** The replica recovery's wait before it checks progress (the runbook's default is 30 s). */
const VERIFY_AFTER_SECONDS = 2;
/** Redis lifts the pause by itself after this long, should the recovery runbook never run. */
const PAUSE_MS = 30_000;

export type TimelineKind =
  | 'process'
  | 'action'
  | 'heartbeats'
  | 'transition'
  | 'notification'
  | 'runbook'
  | 'runbook-step'
  | 'check'
  | 'pipeline';

export interface TimelineEvent {
  /** Milliseconds since the demo started. */
  readonly atMs: number;
  readonly kind: TimelineKind;
  readonly text: string;
}

export interface DemoIncident {
  readonly incidentId: string;
  readonly nodeId: string;
  readonly role: string;
  readonly kind: string;
  readonly severity: string;
  readonly state: string;
  readonly runbook?: string;
  readonly candidate?: string;
  readonly steps: readonly string[];
}

export interface DemoSummary {
  readonly simulated: false;
  /** Both the stall detection and the failover happened (and were confirmed on the servers). */
  readonly ok: boolean;
  /** Why not, when not ok. */
  readonly reason?: string;
  /** From the CLIENT PAUSE to the replica's STALLED status reaching on-transition. */
  readonly stallDetectedAfterMs: number | null;
  /** From the STALLED status to HEALTHY again (the replica-recovery runbook's CLIENT UNPAUSE). */
  readonly stallRecoveredAfterMs: number | null;
  /** From the SIGKILL of the primary to its DEAD status reaching on-transition. */
  readonly deadDetectedAfterMs: number | null;
  /** From the SIGKILL of the primary to the promoted replica confirmed by its own INFO replication. */
  readonly failoverCompletedAfterMs: number | null;
  readonly promotedNode: string | null;
  readonly policy: PolicyOverrides;
  /** Every process the demo started (stopped when it returns). */
  readonly processes: readonly { name: string; pid: number }[];
  readonly incidents: readonly DemoIncident[];
  readonly timeline: readonly TimelineEvent[];
}

export interface RedisDemoOptions {
  /** The whole run must end within this. @default 120 s */
  readonly timeoutMs?: number;
  /** Receives each timeline line as it happens. @default - nothing printed */
  readonly print?: (line: string) => void;
  /** Stops the demo (Ctrl-C); everything is still cleaned up. */
  readonly signal?: AbortSignal;
  /** The redis-server binary. @default the one on PATH */
  readonly redisServer?: string;
  /** Told of each process the demo started, as soon as it runs (to kill it by force). */
  readonly onProcess?: (process: { name: string; pid: number }) => void;
}

/** The demo could not show what it set out to show; the message says what was missing. */
export class DemoFailedError extends Error {
  override readonly name = 'DemoFailedError';
}

/** One timeline line as the demo prints it. */
export const formatEvent = (event: TimelineEvent) =>
  `+${String(event.atMs).padStart(6)} ms  ${event.kind.padEnd(12)} ${event.text}`;

const offsetOf = (position: string | undefined) => position?.split(':').pop() ?? '?';

function describeHeartbeat(hb: HeartbeatInput): string {
  if (hb.reachable === false) return `${hb.nodeId} unreachable`;
  if (hb.role === 'primary') return `${hb.nodeId} primary @${offsetOf(hb.position)}`;
  const replication = hb.replication;
  if (hb.role !== 'replica' || replication === undefined) return `${hb.nodeId} ${hb.role}`;
  const link = replication.linkUp ? '' : ' link down';
  return `${hb.nodeId} replica applied @${offsetOf(replication.appliedPosition)} read @${offsetOf(replication.receivedPosition)}${link}`;
}

function clusterYaml(topology: RedisTopology): string {
  const nodes = [topology.primary, ...topology.replicas]
    .map((node) => `      - id: ${node.nodeId}\n        url: ${node.endpoint.url}`)
    .join('\n');
  const policy = Object.entries(DEMO_POLICY)
    .map(([key, value]) => `      ${key}: ${value}`)
    .join('\n');
  return `clusters:\n  - id: ${DEMO_CLUSTER}\n    engine: redis\n    mode: auto\n    nodes:\n${nodes}\n    policy:\n${policy}\n`;
}

/**
 * Runs the real-Redis demo once and returns its summary (never throws for a failed demo: `ok` and `reason`
 * say what happened; throws only when the servers or the stack cannot start at all, after cleaning up).
 *
 * @example
 * const summary = await runRedisDemo({ timeoutMs: 90_000 });
 * if (summary.ok) console.log(summary.stallDetectedAfterMs, summary.failoverCompletedAfterMs);
 */
export async function runRedisDemo(options: RedisDemoOptions = {}): Promise<DemoSummary> {
  const t0 = Date.now();
  const deadline = t0 + (options.timeoutMs ?? 120_000);
  const signal = options.signal ?? new AbortController().signal;
  const print = options.print ?? (() => undefined);
  const timeline: TimelineEvent[] = [];
  const note = (kind: TimelineKind, text: string, at = Date.now()) => {
    const event = { atMs: at - t0, kind, text };
    timeline.push(event);
    // Runbook steps are read from the incidents at the end: they are printed with the summary.
    if (kind !== 'runbook-step') print(formatEvent(event));
  };
  const transitions: { at: number; transition: Transition }[] = [];
  const finishedRuns: { at: number; name: string; run: RunbookRun }[] = [];
  const processes: { name: string; pid: number }[] = [];
  const figures = {
    stallDetectedAfterMs: null as number | null,
    stallRecoveredAfterMs: null as number | null,
    deadDetectedAfterMs: null as number | null,
    failoverCompletedAfterMs: null as number | null,
    promotedNode: null as string | null,
  };
  const until = (what: string, probe: () => boolean | Promise<boolean>) =>
    waitFor(what, async () => probe(), {
      timeoutMs: Math.max(0, deadline - Date.now()),
      intervalMs: 100,
      signal,
    });
  const transitionTo = (nodeId: string, to: string, after: number) =>
    transitions.find((t) => t.transition.nodeId === nodeId && t.transition.to === to && t.at >= after);
  const status = (nodeId: string) =>
    transitions.filter((t) => t.transition.nodeId === nodeId).at(-1)?.transition.to;

  let topology: RedisTopology | undefined;
  let stack: LocalStack | undefined;
  const watching = new AbortController();
  let watchDone: Promise<unknown> = Promise.resolve();
  let incidents: DemoIncident[] = [];
  let reason: string | undefined;
  try {
    const started = await Promise.allSettled([
      startRedisTopology({
        replicas: 2,
        command: options.redisServer,
      }),
      startLocalStack({
        port: 0,
        sweepIntervalMs: INTERVAL_MS,
        pollIntervalMs: 200,
        verifyAfterSeconds: VERIFY_AFTER_SECONDS,
        print: (line) =>
          line.startsWith('[alert]')
            ? note('notification', line.slice('[alert] '.length))
            : line.startsWith('[runbook]')
              ? note('runbook', line.slice('[runbook] '.length))
              : note('pipeline', line),
        onTransition: (transition) => {
          transitions.push({ at: Date.now(), transition });
          note(
            'transition',
            `${transition.nodeId} ${transition.from ?? '-'} → ${transition.to} (${transition.reason})`,
          );
        },
        onRunbookFinished: (name, run) => finishedRuns.push({ at: Date.now(), name, run }),
      }),
      // Synthesizes the runbooks' state machines now (cached on disk) rather than at the first incident.
      loadRunbookDefinitions(),
    ]);
    const [redisStart, stackStart, definitions] = started;
    if (redisStart.status === 'fulfilled') topology = redisStart.value;
    if (stackStart.status === 'fulfilled') stack = stackStart.value;
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    if (topology === undefined || stack === undefined || definitions.status !== 'fulfilled')
      throw new Error('unreachable: a start neither failed nor succeeded');
    const redis = topology;
    const local = stack;
    const record = (name: string, pid: number) => {
      processes.push({ name, pid });
      options.onProcess?.({ name, pid });
    };
    for (const node of [redis.primary, ...redis.replicas]) {
      record(node.nodeId, node.pid);
      note('process', `${node.nodeId} redis-server pid ${node.pid} on ${node.host}:${node.port}`);
    }
    if (local.dynamodbPid !== undefined) record('dynamodb-local', local.dynamodbPid);
    note('process', `DynamoDB Local pid ${local.dynamodbPid}; local stack on ${local.url}`);
    signal.throwIfAborted();

    const config = parseClusterConfig(clusterYaml(redis), 'demo clusters.yaml');
    const client = documentClient({ ...LOCAL_AWS, endpoint: local.dynamodbEndpoint });
    const stackSink = localSink(local.url);
    const sink: HeartbeatSink = {
      async send(heartbeats) {
        note('heartbeats', heartbeats.map(describeHeartbeat).join(' | '));
        return stackSink.send(heartbeats);
      },
    };
    watchDone = watch({
      config,
      client,
      tableName: local.tableName,
      sink,
      intervalMs: INTERVAL_MS,
      signal: watching.signal,
      print: (line) => note('pipeline', line),
    })
      .catch((error: Error) => note('pipeline', `watch stopped: ${error.message}`))
      .finally(() => client.destroy());

    const [healthy, stalled] = redis.replicas as [ServerNode, ServerNode];
    const all = [redis.primary, healthy, stalled];
    await until('every node HEALTHY', () => all.every((node) => status(node.nodeId) === 'HEALTHY'));

    // The stall.
    await redisCommand(stalled, ['CLIENT', 'PAUSE', String(PAUSE_MS), 'WRITE']);
    const stallAt = Date.now();
    note('action', `CLIENT PAUSE ${PAUSE_MS} WRITE on ${stalled.nodeId}: it receives but applies nothing`);
    await until(
      `${stalled.nodeId} STALLED`,
      () => transitionTo(stalled.nodeId, 'STALLED', stallAt) !== undefined,
    );
    const stallSeen = transitionTo(stalled.nodeId, 'STALLED', stallAt)?.at ?? Date.now();
    figures.stallDetectedAfterMs = stallSeen - stallAt;
    await until(
      `${stalled.nodeId} HEALTHY again and its replica-recovery runbook finished`,
      () =>
        transitionTo(stalled.nodeId, 'HEALTHY', stallSeen) !== undefined &&
        finishedRuns.some((r) => r.at >= stallAt),
    );
    figures.stallRecoveredAfterMs = (transitionTo(stalled.nodeId, 'HEALTHY', stallSeen)?.at ?? 0) - stallSeen;

    // The crash.
    await redis.kill(redis.primary);
    const killAt = Date.now();
    note('action', `SIGKILL ${redis.primary.nodeId} (pid ${redis.primary.pid}), the primary`);
    await until(
      `${redis.primary.nodeId} DEAD`,
      () => transitionTo(redis.primary.nodeId, 'DEAD', killAt) !== undefined,
    );
    figures.deadDetectedAfterMs = (transitionTo(redis.primary.nodeId, 'DEAD', killAt)?.at ?? 0) - killAt;
    // The replica recovery ended before the kill: the run that ends after it is the failover.
    await until('the primary-failover runbook to finish', () => finishedRuns.some((r) => r.at >= killAt));
    const failover = finishedRuns.find((r) => r.at >= killAt);
    const candidate = failover?.run.output?.candidate;
    const promoted = redis.replicas.find((node) => node.nodeId === candidate);
    if (failover?.run.status !== 'SUCCEEDED' || promoted === undefined) {
      throw new DemoFailedError(
        `the primary-failover runbook ended ${failover?.run.status ?? 'without a status'} ` +
          `(${failover?.run.states.join(' → ') ?? ''}) without promoting a replica`,
      );
    }
    const other = redis.replicas.filter((node) => node !== promoted);
    await until(`${promoted.nodeId} to report role:master and the other replica to follow it`, async () => {
      if ((await redisInfo(promoted)).get('role') !== 'master') return false;
      for (const node of other) if (!(await follows(node, promoted))) return false;
      return true;
    });
    figures.failoverCompletedAfterMs = Date.now() - killAt;
    figures.promotedNode = promoted.nodeId;
    note(
      'check',
      `${promoted.nodeId} INFO replication: role:master; ${other.map((n) => n.nodeId).join(', ')} ` +
        `role:slave of port ${promoted.port}, link up`,
    );
  } catch (error) {
    if (signal.aborted) reason = 'interrupted';
    else if (error instanceof DemoFailedError) reason = error.message;
    else if (topology === undefined || stack === undefined) throw error;
    else reason = (error as Error).message.split('\n')[0];
  } finally {
    watching.abort();
    await watchDone;
    if (stack !== undefined) {
      incidents = await readIncidents(stack, t0, note).catch(() => []);
    }
    await Promise.all([stack?.stop(), topology?.stop()]);
  }
  const ok = reason === undefined && figures.stallDetectedAfterMs !== null && figures.promotedNode !== null;
  return {
    simulated: false,
    ok,
    ...(ok ? {} : { reason: reason ?? 'the stall or the failover was not seen' }),
    ...figures,
    policy: DEMO_POLICY,
    processes,
    incidents,
    timeline: timeline.sort((a, b) => a.atMs - b.atMs),
  };
}

/** The cluster's incidents, their runbook steps added to the timeline. */
async function readIncidents(
  stack: LocalStack,
  t0: number,
  note: (kind: TimelineKind, text: string, at?: number) => void,
): Promise<DemoIncident[]> {
  const response = await fetch(new URL(`/incidents?cluster=${DEMO_CLUSTER}`, stack.url));
  const { incidents } = (await response.json()) as { incidents: Incident[] };
  return incidents
    .sort((a, b) => a.openedAt - b.openedAt)
    .map((incident) => {
      const steps: readonly RunbookStepEntry[] = incident.runbookSteps ?? [];
      for (const step of steps) {
        if (step.at >= t0) note('runbook-step', `${incident.nodeId} ${step.step}: ${step.detail}`, step.at);
      }
      return {
        incidentId: incident.incidentId,
        nodeId: incident.nodeId,
        role: incident.role,
        kind: incident.kind,
        severity: incident.severity,
        state: incident.state,
        runbook: incident.runbook,
        candidate: incident.plan?.candidate,
        steps: steps.map((step) => step.step),
      };
    });
}
