import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { IncidentStore } from '../adapters/incident-store';
import type { Log } from '../adapters/log';
import type { NodeStateStore } from '../adapters/node-state-store';
import type { Notifier } from '../adapters/notifier';
import type { RunbookLauncher } from '../adapters/runbooks';
import {
  canBeSymptom,
  decideIncident,
  type Incident,
  type IncidentDecision,
  isIncidentKind,
  type Muting,
  type Transition,
} from '../core/incidents';
import type { NodeState } from '../core/node-state';
import { incidentNotification, type Links } from '../core/notification';

export interface TransitionDeps {
  readonly incidents: IncidentStore;
  /** Reads the cluster's nodes, to tell a replica's own trouble from a symptom of its source being down. */
  readonly nodes: Pick<NodeStateStore, 'loadCluster'>;
  readonly notifier: Notifier;
  readonly runbooks: RunbookLauncher;
  readonly logger: Log;
  /** Links for messages (console URLs); none locally. */
  readonly links?: (incident: Incident) => Links;
  /** @default 3 */
  readonly maxConflictRetries?: number;
}

/** The status change a node item's stream record carries, or undefined if it carries none. */
export function transitionOf(
  record: DynamoDBRecord,
): { transition: Transition; node: NodeState } | undefined {
  const image = record.dynamodb?.NewImage;
  if (!image) return undefined;
  const node = unmarshall(image as Record<string, AttributeValue>) as NodeState & { type?: string };
  if (node.type !== 'node' || node.transitionTo === undefined) return undefined;
  return {
    node,
    transition: {
      clusterId: node.clusterId,
      nodeId: node.nodeId,
      role: node.role,
      engine: node.engine,
      ...(node.transitionFrom ? { from: node.transitionFrom } : {}),
      to: node.transitionTo,
      version: node.version,
      at: node.statusSince,
      reason: node.statusReason,
      ...(node.lagSeconds !== undefined ? { lagSeconds: node.lagSeconds } : {}),
      ...(node.lagUnits !== undefined ? { lagUnits: node.lagUnits } : {}),
      ...(node.appliedPosition !== undefined ? { appliedPosition: node.appliedPosition } : {}),
      ...(node.sourcePosition !== undefined ? { sourcePosition: node.sourcePosition } : {}),
    },
  };
}

/**
 * Applies one status change to the node's incident, then delivers the incident's outbox (notification,
 * runbook hand-off) and clears it. Idempotent: a re-delivered record finds its node version already
 * applied and only re-delivers an outbox that was not cleared (at-least-once, deduplicated downstream by
 * the notification id `incidentId#revision` and the execution name = incident id).
 */
export async function handleTransition(
  record: DynamoDBRecord,
  deps: TransitionDeps,
): Promise<IncidentDecision | undefined> {
  const found = transitionOf(record);
  if (!found) return undefined;
  const { transition: t, node } = found;
  const maxRetries = deps.maxConflictRetries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const [latest, meta] = await Promise.all([
      deps.incidents.getLatest(t.clusterId, t.nodeId),
      deps.incidents.getClusterMeta(t.clusterId),
    ]);
    let muting: Muting | undefined;
    if (meta.maintenanceUntil !== undefined && meta.maintenanceUntil > t.at) {
      muting = {
        scope: 'cluster',
        until: meta.maintenanceUntil,
        by: meta.maintenanceBy ?? 'unknown',
        reason: meta.maintenanceReason ?? '',
      };
    } else if (node.maintenanceUntil !== undefined && node.maintenanceUntil > t.at) {
      muting = {
        scope: 'node',
        until: node.maintenanceUntil,
        by: node.maintenanceBy ?? 'unknown',
        reason: node.maintenanceReason ?? '',
      };
    }
    // SPLIT_BRAIN, WRONG_SOURCE and DATA_LOSS are never symptoms of a down source (incidents.ts): no read.
    const sourceDown =
      node.role === 'replica' && isIncidentKind(t.to) && canBeSymptom(t.to)
        ? await downSource(node, deps)
        : undefined;
    const decision = decideIncident(t, {
      latest,
      policy: meta.policy,
      mode: meta.mode,
      muting,
      ...(sourceDown ? { sourceDown } : {}),
    });
    if (decision.action === 'none') {
      deps.logger.debug('transition changes no incident', {
        clusterId: t.clusterId,
        nodeId: t.nodeId,
        why: decision.why,
      });
      if (latest) await deliver(latest, deps);
      return decision;
    }
    if ((await deps.incidents.save(decision.incident, latest)) === 'written') {
      deps.logger.info('incident changed', {
        clusterId: t.clusterId,
        nodeId: t.nodeId,
        incidentId: decision.incident.incidentId,
        action: decision.action,
        state: decision.incident.state,
        kind: decision.incident.kind,
      });
      await deliver(decision.incident, deps);
      return decision;
    }
    if (attempt >= maxRetries) {
      throw new Error(
        `incident of ${t.clusterId}/${t.nodeId} kept changing under us; the record will be retried`,
      );
    }
  }
}

/**
 * The replica's source (its named source, else the recorded primary, else a primary that is not
 * SPLIT_BRAIN) when that is DEAD, or SILENT and unlinked. A SPLIT_BRAIN source is never "down": the
 * replica's trouble is its own (and the split brain's incident is on the other node).
 */
async function downSource(node: NodeState, deps: TransitionDeps) {
  const { nodes, primaryNodeId } = await deps.nodes.loadCluster(node.clusterId);
  const source =
    (node.sourceNodeId ? nodes.get(node.sourceNodeId) : undefined) ??
    (primaryNodeId !== undefined && primaryNodeId !== node.nodeId ? nodes.get(primaryNodeId) : undefined) ??
    [...nodes.values()].find(
      (n) => n.role === 'primary' && n.nodeId !== node.nodeId && n.status !== 'SPLIT_BRAIN',
    );
  if (!source) return undefined;
  if (source.status === 'DEAD' || (source.status === 'SILENT' && node.linkUp === false)) {
    return { nodeId: source.nodeId, status: source.status };
  }
  return undefined;
}

async function deliver(incident: Incident, deps: TransitionDeps): Promise<void> {
  const { notifyVersion, runbook } = incident.outbox ?? {};
  if (notifyVersion === undefined && runbook === undefined) return;
  let links = deps.links?.(incident) ?? {};
  if (runbook !== undefined) {
    const started = await deps.runbooks.start(incident);
    deps.logger.info('runbook hand-off', { incidentId: incident.incidentId, runbook, note: started.note });
    if (started.executionArn) links = { ...links, executionUrl: links.executionUrl ?? started.executionArn };
  }
  if (notifyVersion === incident.revision) {
    const last = incident.timeline[incident.timeline.length - 1];
    await deps.notifier.publish(incidentNotification(incident, last?.event ?? 'noted', links));
  }
  await deps.incidents.clearOutbox(incident);
}
