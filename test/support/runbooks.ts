import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { ServingAnswer } from '../../functions/adapters/hooks/serving';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import type { RecoveryHooks } from '../../functions/adapters/recovery-hooks';
import { RecoveryStore } from '../../functions/adapters/recovery-store';
import { runbookInput } from '../../functions/adapters/sfn-launcher';
import { keys } from '../../functions/adapters/table-definition';
import type { HookRequest, HookResult, HookSpec, NodeEndpoint } from '../../functions/core/hooks';
import type { Incident } from '../../functions/core/incidents';
import type { NodeState } from '../../functions/core/node-state';
import type { Engine } from '../../functions/core/position';
import { NotYetPrimaryError, type RunbookState } from '../../functions/core/runbook';
import { createHandler } from '../../functions/runbook-steps/handler';
import { nodeItem } from '../../local/fleet';
import { MemoryNotifier } from '../../local/memory-notifier';
import type { TestTable } from './dynamodb';
import { openedIncidentFor } from './incidents';
import { lambdaContext, silentLogger } from './lambda';
import { putClusterItem, putNodeState } from './table-items';

/**
 * Database-side hooks that record what they were asked and do it on an in-memory model of the servers:
 * for exercising every branch of the runbooks (faults injected per action). The real hooks are tested on
 * real Redis/PostgreSQL servers (test/integration/hooks-*.test.ts, runbooks-real.test.ts).
 */
export class ScriptedHooks implements RecoveryHooks {
  readonly calls: {
    action: string;
    target: string;
    primary?: string;
    epoch: number;
    spec?: HookSpec['type'];
  }[] = [];
  failOn = new Map<string, Error>();
  /** verifyPrimary throws NotYetPrimaryError this many times first. */
  notYetPrimary = 0;
  /** Applied positions replicationProgress returns, in order (the last one repeats). */
  progress: string[] = ['0/100'];
  ssm = false;
  /** What serving() answers per node (the Fence precondition); a node not listed refuses connections (dead). */
  servingStates = new Map<string, ServingAnswer['state']>();

  async run(request: HookRequest, spec: HookSpec | undefined): Promise<HookResult> {
    this.calls.push({
      action: request.action,
      target: request.target.nodeId,
      ...(request.primary ? { primary: request.primary.nodeId } : {}),
      epoch: request.epoch,
      ...(spec ? { spec: spec.type } : {}),
    });
    const failure = this.failOn.get(request.action);
    if (failure) throw failure;
    if (this.ssm && spec?.type === 'ssm')
      return {
        status: 'started',
        ssmExecutionId: `exec-${request.action}`,
        detail: `started ${spec.documentName}`,
      };
    return { status: 'done', detail: `${request.action} ${request.target.nodeId} done` };
  }

  async verifyPrimary(_engine: Engine, endpoint: NodeEndpoint): Promise<void> {
    if (this.notYetPrimary > 0) {
      this.notYetPrimary--;
      throw new NotYetPrimaryError(`${endpoint.nodeId} still reports as a replica`);
    }
  }

  async serving(_engine: Engine, endpoint: NodeEndpoint): Promise<ServingAnswer> {
    this.calls.push({ action: 'serving', target: endpoint.nodeId, epoch: -1 });
    const state = this.servingStates.get(endpoint.nodeId) ?? 'not-serving';
    return { state, detail: `${endpoint.nodeId} is ${state}` };
  }

  async replicationProgress(): Promise<string | undefined> {
    return this.progress.length > 1 ? this.progress.shift() : this.progress[0];
  }

  count(action: string): number {
    return this.calls.filter((c) => c.action === action).length;
  }
}

export interface ClusterSetup {
  clusterId: string;
  mode?: 'auto' | 'approve' | 'dry-run' | 'off';
  meta?: Record<string, unknown>;
  /** Node states (the dead primary pg-1 and replicas pg-2, pg-3 by default). */
  nodes?: NodeState[];
}

export const NODE_URLS = (ports: Record<string, number>) =>
  Object.entries(ports).map(([nodeId, port]) => ({ nodeId, url: `redis://127.0.0.1:${port}` }));

/** Writes a cluster item and its nodes: by default a DEAD primary pg-1 and two STALLED replicas, pg-3 ahead. */
export async function seedCluster(table: TestTable, setup: ClusterSetup, now: number): Promise<NodeState[]> {
  const nodes = setup.nodes ?? [
    {
      ...(nodeItem(setup.clusterId, 'pg-1', 'primary', now - 10_000) as unknown as NodeState),
      status: 'DEAD',
      position: '0/5000',
      lastHeartbeatAt: now - 40_000,
    },
    {
      ...(nodeItem(setup.clusterId, 'pg-2', 'replica', now + 25_000) as unknown as NodeState),
      status: 'STALLED',
      appliedPosition: '0/4000',
      lastHeartbeatAt: now - 5000,
    },
    {
      ...(nodeItem(setup.clusterId, 'pg-3', 'replica', now + 25_000) as unknown as NodeState),
      status: 'STALLED',
      appliedPosition: '0/4F00',
      lastHeartbeatAt: now - 5000,
    },
  ];
  for (const node of nodes) await putNodeState(table, setup.clusterId, node);
  await putClusterItem(table, setup.clusterId, {
    mode: setup.mode ?? 'auto',
    epoch: 7,
    primaryNodeId: 'pg-1',
    nodes: nodes.map((n, i) => ({ nodeId: n.nodeId, url: `redis://127.0.0.1:${7000 + i}` })),
    ...setup.meta,
  });
  return nodes;
}

/** Opens the incident on-transition would open for `nodeId` going to `to`, and returns it. */
export async function openIncident(
  table: TestTable,
  clusterId: string,
  nodeId: string,
  role: 'primary' | 'replica',
  to: 'DEAD' | 'STALLED' | 'SPLIT_BRAIN' | 'WRONG_SOURCE',
  now: number,
  version = 10,
): Promise<Incident> {
  const incident = openedIncidentFor({
    clusterId,
    nodeId,
    role,
    from: to === 'DEAD' ? 'SILENT' : to === 'SPLIT_BRAIN' ? 'FENCED' : 'HEALTHY',
    to,
    version,
    at: now,
    reason: `${nodeId} ${to}`,
  });
  const incidents = new DynamoIncidentStore(table.client, table.tableName);
  if ((await incidents.save(incident, undefined)) === 'conflict') {
    // The node already has an incident: write this one as a separate item, as concurrent triggers that
    // each opened an incident would leave them (the split-brain test starts a run for each).
    await table.client.send(
      new PutCommand({
        TableName: table.tableName,
        Item: {
          PK: keys.clusterPk(clusterId),
          SK: keys.incidentSk(new Date(incident.openedAt).toISOString(), incident.incidentId),
          type: 'incident',
          ...incident,
        },
      }),
    );
  }
  return incident;
}

/** The real runbook-steps handler on the test table, with hooks and notifications the test sees. */
export function stepsFor(table: TestTable, hooks: RecoveryHooks, clock: () => number = Date.now) {
  const notifier = new MemoryNotifier();
  const recovery = new RecoveryStore(table.client, table.tableName);
  const handler = createHandler(
    { recovery, nodes: table.store, hooks, notifier, clock, verifyAfterSeconds: 0 },
    { logger: silentLogger() },
  );
  const context = lambdaContext('runbook-steps');
  const steps = (payload: { action: string; state: RunbookState; taskToken?: string }) =>
    handler(payload as Parameters<typeof handler>[0], context) as Promise<RunbookState>;
  return { steps, notifier, recovery };
}

export { runbookInput };
