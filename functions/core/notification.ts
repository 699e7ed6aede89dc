import { clip, type SlackPayload } from './alarm-message';
import type { Incident, IncidentEvent, Severity } from './incidents';
import type { OperatorActionRecord } from './operator';
import type { Engine } from './position';

/** Where the message's links point; every field optional (local mode has no console). */
export interface Links {
  readonly executionUrl?: string;
  readonly logsUrl?: string;
}

/**
 * An AWS Chatbot (Amazon Q Developer in chat applications) custom notification: the SNS message body
 * that a Chatbot Slack channel renders. `metadata.additionalContext` carries the incident's figures as
 * strings so the notify-slack subscriber builds its Block Kit message from the same message.
 */
export interface ChatbotNotification {
  version: '1.0';
  source: 'custom';
  id: string;
  content: {
    textType: 'client-markdown';
    title: string;
    description: string;
    nextSteps: string[];
    keywords: string[];
  };
  metadata: {
    threadId: string;
    summary: string;
    eventType: string;
    relatedResources: string[];
    additionalContext: Record<string, string>;
  };
}

const EMOJI: Record<Severity, string> = {
  warning: ':warning:',
  major: ':rotating_light:',
  critical: ':fire:',
};

const WHAT_NEXT: Record<string, string> = {
  'replica-recovery':
    'The replica-recovery runbook restarts replication, verifies progress and escalates if it does not recover.',
  'primary-failover':
    'The primary-failover runbook re-verifies the quorum, fences the old primary, promotes the best replica and repoints the others.',
};

/** How a SPLIT_BRAIN node is demoted, per engine (what the extended replica-recovery runbook does). */
function demotion(engine: Engine | undefined): string {
  switch (engine) {
    case 'redis':
      return 'Redis: it is demoted with REPLICAOF the recorded primary; the writes it took on its own are discarded by the resync.';
    case 'postgresql':
      return 'PostgreSQL: it is fenced read-only and its sessions ended; to rejoin it needs pg_rewind or a `rebuild` hook, which the runbook cannot do for you.';
    case 'mysql':
    case 'mariadb':
      return 'MySQL/MariaDB: it is set super_read_only and repointed with GTID; transactions it took on its own stay on it as errant GTIDs to reconcile.';
    default:
      return "It is demoted through the cluster's hooks.";
  }
}

/**
 * What happens next and what the operator should do, for the kinds that are about topology or data:
 * the runbook's name alone would not say it (replica-recovery does something else for these).
 */
function kindNextSteps(incident: Incident): string[] | undefined {
  const auto = incident.runbook !== undefined;
  switch (incident.kind) {
    case 'SPLIT_BRAIN':
      return [
        'Two nodes may be taking writes: clients still writing to this node write data the recorded primary never sees.',
        auto
          ? `The replica-recovery runbook demotes it to a replica of the recorded primary (auto; approve asks first; dry-run only reports). ${demotion(incident.engine)}`
          : `No runbook (mode off): demote it by hand now. ${demotion(incident.engine)}`,
        'Check which writes reached it alone (see Why for the recorded primary and epoch).',
      ];
    case 'WRONG_SOURCE':
      return [
        "This replica does not receive the recorded primary's writes: its data is stale and it is no failover candidate.",
        auto
          ? 'The replica-recovery runbook repoints it to the recorded primary (auto; approve asks first; dry-run only reports).'
          : 'No runbook (mode off): repoint it to the recorded primary by hand.',
      ];
    case 'DATA_LOSS':
      return [
        'No runbook: data is gone on this primary and nothing automatic brings it back. Act now.',
        'Replicas still ahead hold the lost data only until they resync: stop them from resyncing (Redis: REPLICAOF NO ONE on the most advanced one) or copy their data, then restore.',
        'DATA_LOSS holds until an operator clears it; it does not resolve on its own.',
      ];
    default:
      return undefined;
  }
}

function figure(value: number | undefined, unit: string): string | undefined {
  return value === undefined ? undefined : `${Math.round(value * 10) / 10}${unit}`;
}

/** The Chatbot custom-notification envelope of one incident revision (its id is what subscribers dedupe on). */
function envelope(
  incident: Incident,
  eventType: string,
  title: string,
  description: string,
  nextSteps: string[],
  context: Record<string, string>,
): ChatbotNotification {
  return {
    version: '1.0',
    source: 'custom',
    id: `${incident.incidentId}#${incident.revision}`,
    content: {
      textType: 'client-markdown',
      title,
      description,
      nextSteps,
      keywords: [context.severity ?? incident.severity, incident.kind, incident.clusterId],
    },
    metadata: {
      threadId: incident.incidentId,
      summary: title,
      eventType,
      relatedResources: [`${incident.clusterId}/${incident.nodeId}`],
      additionalContext: context,
    },
  };
}

/** The one message for one change of an incident (its revision). */
export function incidentNotification(
  incident: Incident,
  event: IncidentEvent,
  links: Links = {},
): ChatbotNotification {
  const last = incident.timeline[incident.timeline.length - 1];
  const change = last ? `${last.from ?? 'new'} → ${last.to}` : incident.kind;
  const resolved = incident.state === 'RESOLVED';
  const emoji = resolved ? ':white_check_mark:' : EMOJI[incident.severity];
  const title = resolved
    ? `${emoji} Resolved: ${incident.clusterId}/${incident.nodeId} is HEALTHY again`
    : `${emoji} ${incident.kind}: ${incident.clusterId}/${incident.nodeId} (${incident.role}) — incident ${event}`;
  const lag = [
    figure(incident.lagSeconds, 's'),
    incident.lagUnits === undefined ? undefined : `${incident.lagUnits} position units`,
  ].filter((x): x is string => x !== undefined);
  const lines = [
    `*Status:* ${change}`,
    `*Why:* ${last?.reason ?? ''}`,
    ...(lag.length > 0 ? [`*Lag:* ${lag.join(', ')}`] : []),
    ...(incident.appliedPosition ? [`*Applied:* ${incident.appliedPosition}`] : []),
    ...(incident.sourcePosition ? [`*Source:* ${incident.sourcePosition}`] : []),
    ...(incident.flaps > 0 ? [`*Flapping:* reopened ${incident.flaps} time(s) within the cooldown`] : []),
  ];
  const nextSteps = resolved
    ? []
    : [
        ...(kindNextSteps(incident) ?? [
          incident.runbook
            ? (WHAT_NEXT[incident.runbook] ?? incident.runbook)
            : 'No runbook for this incident: look at the node.',
        ]),
        ...(links.executionUrl ? [`Runbook execution: ${links.executionUrl}`] : []),
        ...(links.logsUrl ? [`Logs: ${links.logsUrl}`] : []),
      ];
  const context: Record<string, string> = {
    incidentId: incident.incidentId,
    revision: String(incident.revision),
    event,
    state: incident.state,
    severity: incident.severity,
    kind: incident.kind,
    clusterId: incident.clusterId,
    nodeId: incident.nodeId,
    role: incident.role,
    change,
    reason: last?.reason ?? '',
  };
  const optional: [string, string | undefined][] = [
    [
      'lagSeconds',
      incident.lagSeconds === undefined ? undefined : String(Math.round(incident.lagSeconds * 10) / 10),
    ],
    ['lagUnits', incident.lagUnits === undefined ? undefined : String(incident.lagUnits)],
    ['appliedPosition', incident.appliedPosition],
    ['sourcePosition', incident.sourcePosition],
    ['runbook', incident.runbook],
    ['executionUrl', links.executionUrl],
    ['logsUrl', links.logsUrl],
  ];
  for (const [key, value] of optional) if (value !== undefined) context[key] = value;
  return envelope(incident, `incident-${event}`, title, lines.join('\n'), nextSteps, context);
}

/** Slack Block Kit for teams without Chatbot, built from the same notification. */
export function slackMessage(n: ChatbotNotification): SlackPayload {
  const c = n.metadata.additionalContext;
  const fields = [
    ['Severity', c.severity],
    ['Cluster', c.clusterId],
    ['Node', c.nodeId ? `${c.nodeId} (${c.role})` : undefined],
    ['Status change', c.change],
    [
      'Lag',
      [c.lagSeconds && `${c.lagSeconds}s`, c.lagUnits && `${c.lagUnits} units`].filter(Boolean).join(', ') ||
        undefined,
    ],
    ['Applied / source', c.appliedPosition ? `${c.appliedPosition} / ${c.sourcePosition ?? '?'}` : undefined],
  ]
    .filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '')
    .map(([label, value]) => ({ type: 'mrkdwn', text: `*${label}:*\n${value}` }));
  const blocks: object[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: clip(n.content.title.replace(/:[a-z_]+: /, ''), 150) },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: clip(c.reason || '(no reason recorded)', 3000) },
      fields,
    },
  ];
  if (n.content.nextSteps.length > 0) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*What happens next*\n${n.content.nextSteps.join('\n')}` },
    });
  }
  const buttons = [
    ['Runbook execution', c.executionUrl],
    ['Logs', c.logsUrl],
  ]
    .filter((b): b is [string, string] => typeof b[1] === 'string')
    .map(([text, url]) => ({ type: 'button', text: { type: 'plain_text', text }, url }));
  if (buttons.length > 0) blocks.push({ type: 'actions', elements: buttons });
  if (c.event === 'runbook-approval-requested') {
    // Interactive buttons: with a Slack app whose interactivity URL is the approval API's /slack/actions,
    // a press is signature-checked and handed to the waiting runbook (functions/approval).
    const value = (decision: string) => `${c.clusterId}|${c.incidentId}|${decision}`;
    blocks.push({
      type: 'actions',
      block_id: 'approval',
      elements: [
        {
          type: 'button',
          action_id: 'approve',
          style: 'primary',
          text: { type: 'plain_text', text: 'Approve' },
          value: value('approve'),
        },
        {
          type: 'button',
          action_id: 'reject',
          style: 'danger',
          text: { type: 'plain_text', text: 'Reject' },
          value: value('reject'),
        },
      ],
    });
  }
  const footer = c.event?.startsWith('operator-')
    ? `operator action by ${c.by}${c.incidentId ? ` · incident ${c.incidentId}` : ''}`
    : `incident ${c.incidentId} · revision ${c.revision}`;
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footer }] });
  return { text: n.content.title, blocks };
}

/** The message for a runbook step worth telling (plan, approval, outcome), as the same Chatbot format. */
export function runbookNotification(
  incident: Incident,
  step: string,
  detail: string,
  nextSteps: readonly string[] = [],
  links: Links = {},
): ChatbotNotification {
  const emoji =
    incident.state === 'FAILED' ? ':sos:' : incident.state === 'RESOLVED' ? ':white_check_mark:' : ':gear:';
  const title = `${emoji} ${incident.runbook ?? 'runbook'} ${step}: ${incident.clusterId}/${incident.nodeId}`;
  const context: Record<string, string> = {
    incidentId: incident.incidentId,
    revision: String(incident.revision),
    event: `runbook-${step}`,
    state: incident.state,
    severity: incident.state === 'FAILED' ? 'critical' : incident.severity,
    kind: incident.kind,
    clusterId: incident.clusterId,
    nodeId: incident.nodeId,
    role: incident.role,
    change: `runbook: ${step}`,
    reason: detail,
    ...(incident.runbook ? { runbook: incident.runbook } : {}),
    ...(incident.plan?.dataAtRisk ? { dataAtRisk: incident.plan.dataAtRisk } : {}),
    ...(links.executionUrl ? { executionUrl: links.executionUrl } : {}),
    ...(links.logsUrl ? { logsUrl: links.logsUrl } : {}),
  };
  return envelope(incident, `runbook-${step}`, title, detail, [...nextSteps], context);
}

/**
 * The message for an operator's action (unlock, ack, pause, resume, a refused Slack action): who did what to
 * which cluster and why, in the same Chatbot format (event `operator-<action>`). Its id is unique per
 * action (cluster, action, time), so subscribers never drop it as a duplicate of an incident revision.
 */
export function operatorNotification(record: OperatorActionRecord): ChatbotNotification {
  const target = record.nodeId ? `${record.clusterId}/${record.nodeId}` : record.clusterId;
  const title = `:bust_in_silhouette: ${record.action}: ${target} by ${record.by}`;
  const description = `${record.detail}\n*Why:* ${record.reason}`;
  const context: Record<string, string> = {
    event: `operator-${record.action}`,
    severity: 'warning',
    clusterId: record.clusterId,
    change: `operator: ${record.action}`,
    reason: `${record.detail}. Why (${record.by}): ${record.reason}`,
    by: record.by,
    ...(record.incidentId ? { incidentId: record.incidentId } : {}),
    ...(record.nodeId ? { nodeId: record.nodeId, role: 'node' } : {}),
  };
  return {
    version: '1.0',
    source: 'custom',
    id: `${record.clusterId}#operator#${record.action}#${record.at}`,
    content: {
      textType: 'client-markdown',
      title,
      description,
      nextSteps: [],
      keywords: ['operator', record.action, record.clusterId],
    },
    metadata: {
      threadId: record.incidentId ?? `${record.clusterId}#operator`,
      summary: title,
      eventType: `operator-${record.action}`,
      relatedResources: [target],
      additionalContext: context,
    },
  };
}
