import { describe, expect, it } from '@jest/globals';
import type { Incident } from '../../functions/core/incidents';
import type { NodeStatus } from '../../functions/core/node-state';
import {
  type ChatbotNotification,
  incidentNotification,
  slackMessage,
} from '../../functions/core/notification';

const T0 = Date.UTC(2025, 0, 15, 8, 0, 0);
const INCIDENT_ID = 'cache-redis-r2-1x2y3z-42-m5xm3280';
const STALL_REASON = 'applied position 0/3000060 has not moved for 75s while the source advanced';
const RECOVERY_REASON = '3 consecutive good heartbeats, applied position advancing';
const REPLICA_RECOVERY_NEXT =
  'The replica-recovery runbook restarts replication, verifies progress and escalates if it does not recover.';
const EXECUTION_URL =
  'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:replica-recovery:cache-redis-r2-1x2y3z-42-m5xm3280';
const LOGS_URL =
  'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups';

/** Replica r2 of cache-redis just went STALLED: revision 1, handed to replica-recovery. */
const openedStall: Incident = {
  clusterId: 'cache-redis',
  incidentId: INCIDENT_ID,
  nodeId: 'r2',
  role: 'replica',
  kind: 'STALLED',
  severity: 'major',
  state: 'OPEN',
  openedAt: T0,
  updatedAt: T0,
  lastNodeVersion: 42,
  revision: 1,
  flaps: 0,
  timeline: [{ at: T0, event: 'opened', from: 'HEALTHY', to: 'STALLED', reason: STALL_REASON }],
  runbook: 'replica-recovery',
  outbox: { notifyVersion: 1, runbook: 'replica-recovery' },
  lagSeconds: 75,
  lagUnits: 4096,
  appliedPosition: '0/3000060',
  sourcePosition: '0/3001060',
};

/** The same incident after r2 caught up: revision 2. */
const resolvedStall: Incident = {
  ...openedStall,
  state: 'RESOLVED',
  updatedAt: T0 + 300_000,
  resolvedAt: T0 + 300_000,
  lastNodeVersion: 50,
  revision: 2,
  timeline: [
    ...openedStall.timeline,
    { at: T0 + 300_000, event: 'resolved', from: 'STALLED', to: 'HEALTHY', reason: RECOVERY_REASON },
  ],
  outbox: { notifyVersion: 2 },
  lagSeconds: 0,
  lagUnits: 0,
  appliedPosition: '0/3001060',
  sourcePosition: '0/3001060',
};

/** A SILENT replica: no runbook, no figures. */
const silentReplica: Incident = {
  clusterId: 'cache-redis',
  incidentId: 'cache-redis-r3-9q8w7e-7-m5xm3280',
  nodeId: 'r3',
  role: 'replica',
  kind: 'SILENT',
  severity: 'major',
  state: 'OPEN',
  openedAt: T0,
  updatedAt: T0,
  lastNodeVersion: 7,
  revision: 1,
  flaps: 0,
  timeline: [{ at: T0, event: 'opened', from: 'HEALTHY', to: 'SILENT', reason: 'no heartbeat for 30s' }],
  outbox: { notifyVersion: 1 },
};

describe('incidentNotification', () => {
  it('describes an opened STALLED replica incident as a Chatbot custom notification', () => {
    // Act
    const notification = incidentNotification(openedStall, 'opened', {
      executionUrl: EXECUTION_URL,
      logsUrl: LOGS_URL,
    });

    // Assess
    const title = ':rotating_light: STALLED: cache-redis/r2 (replica) — incident opened';
    expect(notification).toStrictEqual({
      version: '1.0',
      source: 'custom',
      id: `${INCIDENT_ID}#1`,
      content: {
        textType: 'client-markdown',
        title,
        description: [
          '*Status:* HEALTHY → STALLED',
          `*Why:* ${STALL_REASON}`,
          '*Lag:* 75s, 4096 position units',
          '*Applied:* 0/3000060',
          '*Source:* 0/3001060',
        ].join('\n'),
        nextSteps: [REPLICA_RECOVERY_NEXT, `Runbook execution: ${EXECUTION_URL}`, `Logs: ${LOGS_URL}`],
        keywords: ['major', 'STALLED', 'cache-redis'],
      },
      metadata: {
        threadId: INCIDENT_ID,
        summary: title,
        eventType: 'incident-opened',
        relatedResources: ['cache-redis/r2'],
        additionalContext: {
          incidentId: INCIDENT_ID,
          revision: '1',
          event: 'opened',
          state: 'OPEN',
          severity: 'major',
          kind: 'STALLED',
          clusterId: 'cache-redis',
          nodeId: 'r2',
          role: 'replica',
          change: 'HEALTHY → STALLED',
          reason: STALL_REASON,
          lagSeconds: '75',
          lagUnits: '4096',
          appliedPosition: '0/3000060',
          sourcePosition: '0/3001060',
          runbook: 'replica-recovery',
          executionUrl: EXECUTION_URL,
          logsUrl: LOGS_URL,
        },
      },
    });
  });

  it('describes a resolved incident with no next steps', () => {
    // Act
    const notification = incidentNotification(resolvedStall, 'resolved', { logsUrl: LOGS_URL });

    // Assess
    const title = ':white_check_mark: Resolved: cache-redis/r2 is HEALTHY again';
    expect(notification).toStrictEqual({
      version: '1.0',
      source: 'custom',
      id: `${INCIDENT_ID}#2`,
      content: {
        textType: 'client-markdown',
        title,
        description: [
          '*Status:* STALLED → HEALTHY',
          `*Why:* ${RECOVERY_REASON}`,
          '*Lag:* 0s, 0 position units',
          '*Applied:* 0/3001060',
          '*Source:* 0/3001060',
        ].join('\n'),
        nextSteps: [],
        keywords: ['major', 'STALLED', 'cache-redis'],
      },
      metadata: {
        threadId: INCIDENT_ID,
        summary: title,
        eventType: 'incident-resolved',
        relatedResources: ['cache-redis/r2'],
        additionalContext: {
          incidentId: INCIDENT_ID,
          revision: '2',
          event: 'resolved',
          state: 'RESOLVED',
          severity: 'major',
          kind: 'STALLED',
          clusterId: 'cache-redis',
          nodeId: 'r2',
          role: 'replica',
          change: 'STALLED → HEALTHY',
          reason: RECOVERY_REASON,
          lagSeconds: '0',
          lagUnits: '0',
          appliedPosition: '0/3001060',
          sourcePosition: '0/3001060',
          runbook: 'replica-recovery',
          logsUrl: LOGS_URL,
        },
      },
    });
  });

  it('keeps one thread per incident and one id per revision', () => {
    // Act
    const first = incidentNotification(openedStall, 'opened');
    const second = incidentNotification(resolvedStall, 'resolved');

    // Assess
    expect([first.metadata.threadId, second.metadata.threadId]).toEqual([INCIDENT_ID, INCIDENT_ID]);
    expect([first.id, second.id]).toEqual([`${INCIDENT_ID}#1`, `${INCIDENT_ID}#2`]);
  });

  it('tells the reader to look at the node when no runbook takes over, and lists no missing figures', () => {
    // Act
    const notification = incidentNotification(silentReplica, 'opened');

    // Assess
    expect(notification.content.description).toBe('*Status:* HEALTHY → SILENT\n*Why:* no heartbeat for 30s');
    expect(notification.content.nextSteps).toEqual(['No runbook for this incident: look at the node.']);
    expect(Object.keys(notification.metadata.additionalContext)).toEqual([
      'incidentId',
      'revision',
      'event',
      'state',
      'severity',
      'kind',
      'clusterId',
      'nodeId',
      'role',
      'change',
      'reason',
    ]);
  });

  it('names the primary-failover runbook and the critical emoji for a DEAD primary', () => {
    // Prepare
    const dead: Incident = {
      ...silentReplica,
      nodeId: 'r1',
      role: 'primary',
      kind: 'DEAD',
      severity: 'critical',
      revision: 2,
      runbook: 'primary-failover',
      timeline: [
        ...silentReplica.timeline,
        {
          at: T0 + 30_000,
          event: 'escalated',
          from: 'SILENT',
          to: 'DEAD',
          reason: 'silent, confirmed by 2 of 2 views',
        },
      ],
    };

    // Act
    const notification = incidentNotification(dead, 'escalated');

    // Assess
    expect(notification.content.title).toBe(':fire: DEAD: cache-redis/r1 (primary) — incident escalated');
    expect(notification.content.nextSteps).toEqual([
      'The primary-failover runbook re-verifies the quorum, fences the old primary, promotes the best replica and repoints the others.',
    ]);
    expect(notification.metadata.eventType).toBe('incident-escalated');
  });

  it('rounds the lag to a tenth of a second and counts the flaps of a reopened incident', () => {
    // Prepare
    const reopened: Incident = { ...openedStall, flaps: 2, lagSeconds: 61.26, lagUnits: undefined };

    // Act
    const notification = incidentNotification(reopened, 'reopened');

    // Assess
    expect(notification.content.description.split('\n')).toEqual([
      '*Status:* HEALTHY → STALLED',
      `*Why:* ${STALL_REASON}`,
      '*Lag:* 61.3s',
      '*Applied:* 0/3000060',
      '*Source:* 0/3001060',
      '*Flapping:* reopened 2 time(s) within the cooldown',
    ]);
  });
});

describe('slackMessage', () => {
  it('turns an opened STALLED incident into a Block Kit message with both link buttons', () => {
    // Prepare
    const notification = incidentNotification(openedStall, 'opened', {
      executionUrl: EXECUTION_URL,
      logsUrl: LOGS_URL,
    });

    // Act
    const message = slackMessage(notification);

    // Assess
    expect(message).toStrictEqual({
      text: ':rotating_light: STALLED: cache-redis/r2 (replica) — incident opened',
      blocks: [
        {
          type: 'header',
          text: { type: 'plain_text', text: 'STALLED: cache-redis/r2 (replica) — incident opened' },
        },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: STALL_REASON },
          fields: [
            { type: 'mrkdwn', text: '*Severity:*\nmajor' },
            { type: 'mrkdwn', text: '*Cluster:*\ncache-redis' },
            { type: 'mrkdwn', text: '*Node:*\nr2 (replica)' },
            { type: 'mrkdwn', text: '*Status change:*\nHEALTHY → STALLED' },
            { type: 'mrkdwn', text: '*Lag:*\n75s, 4096 units' },
            { type: 'mrkdwn', text: '*Applied / source:*\n0/3000060 / 0/3001060' },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `*What happens next*\n${REPLICA_RECOVERY_NEXT}\nRunbook execution: ${EXECUTION_URL}\nLogs: ${LOGS_URL}`,
          },
        },
        {
          type: 'actions',
          elements: [
            { type: 'button', text: { type: 'plain_text', text: 'Runbook execution' }, url: EXECUTION_URL },
            { type: 'button', text: { type: 'plain_text', text: 'Logs' }, url: LOGS_URL },
          ],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `incident ${INCIDENT_ID} · revision 1` }] },
      ],
    });
  });

  it('turns a resolved incident into a message without next steps and with only the links present', () => {
    // Prepare
    const notification = incidentNotification(resolvedStall, 'resolved', { logsUrl: LOGS_URL });

    // Act
    const message = slackMessage(notification);

    // Assess
    expect(message).toStrictEqual({
      text: ':white_check_mark: Resolved: cache-redis/r2 is HEALTHY again',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Resolved: cache-redis/r2 is HEALTHY again' } },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: RECOVERY_REASON },
          fields: [
            { type: 'mrkdwn', text: '*Severity:*\nmajor' },
            { type: 'mrkdwn', text: '*Cluster:*\ncache-redis' },
            { type: 'mrkdwn', text: '*Node:*\nr2 (replica)' },
            { type: 'mrkdwn', text: '*Status change:*\nSTALLED → HEALTHY' },
            { type: 'mrkdwn', text: '*Lag:*\n0s, 0 units' },
            { type: 'mrkdwn', text: '*Applied / source:*\n0/3001060 / 0/3001060' },
          ],
        },
        {
          type: 'actions',
          elements: [{ type: 'button', text: { type: 'plain_text', text: 'Logs' }, url: LOGS_URL }],
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `incident ${INCIDENT_ID} · revision 2` }] },
      ],
    });
  });

  it('leaves out the fields, buttons and next steps it has no values for, and no undefined leaks in', () => {
    // Prepare
    const notification = incidentNotification(silentReplica, 'opened');

    // Act
    const message = slackMessage(notification);

    // Assess
    expect(message.blocks).toStrictEqual(JSON.parse(JSON.stringify(message.blocks)));
    expect(JSON.stringify(message)).not.toContain('undefined');
    expect(message.blocks).toStrictEqual([
      {
        type: 'header',
        text: { type: 'plain_text', text: 'SILENT: cache-redis/r3 (replica) — incident opened' },
      },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: 'no heartbeat for 30s' },
        fields: [
          { type: 'mrkdwn', text: '*Severity:*\nmajor' },
          { type: 'mrkdwn', text: '*Cluster:*\ncache-redis' },
          { type: 'mrkdwn', text: '*Node:*\nr3 (replica)' },
          { type: 'mrkdwn', text: '*Status change:*\nHEALTHY → SILENT' },
        ],
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: '*What happens next*\nNo runbook for this incident: look at the node.',
        },
      },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: 'incident cache-redis-r3-9q8w7e-7-m5xm3280 · revision 1' }],
      },
    ]);
  });

  it('shows an applied position without a source position with a question mark', () => {
    // Prepare
    const notification = incidentNotification(
      { ...openedStall, sourcePosition: undefined, lagUnits: undefined },
      'opened',
    );

    // Act
    const [, section] = slackMessage(notification).blocks;

    // Assess
    expect(section).toMatchObject({
      fields: [
        { text: '*Severity:*\nmajor' },
        { text: '*Cluster:*\ncache-redis' },
        { text: '*Node:*\nr2 (replica)' },
        { text: '*Status change:*\nHEALTHY → STALLED' },
        { text: '*Lag:*\n75s' },
        { text: '*Applied / source:*\n0/3000060 / ?' },
      ],
    });
  });

  it('cuts the header to the 150 characters Slack allows for very long ids, marking the cut', () => {
    // Prepare
    const clusterId = `orders-${'c'.repeat(121)}`;
    const nodeId = `replica-${'n'.repeat(120)}`;
    const notification: ChatbotNotification = incidentNotification(
      { ...openedStall, clusterId, nodeId, incidentId: 'x'.repeat(80) },
      'opened',
    );

    // Act
    const [header] = slackMessage(notification).blocks;

    // Assess
    const full = `STALLED: ${clusterId}/${nodeId} (replica) — incident opened`;
    expect(full.length).toBeGreaterThan(150);
    expect(header).toStrictEqual({
      type: 'header',
      text: { type: 'plain_text', text: `${full.slice(0, 149)}…` },
    });
  });
});

describe('slackMessage text limits', () => {
  it('never splits a two-unit character when cutting the header, and never sends an empty section', () => {
    const base = incidentNotification(openedStall, 'opened');
    const title = `:fire: ${'😀'.repeat(200)}`;
    const n: ChatbotNotification = {
      ...base,
      content: { ...base.content, title },
      metadata: { ...base.metadata, additionalContext: { ...base.metadata.additionalContext, reason: '' } },
    };
    const [header, section] = slackMessage(n).blocks as { text: { text: string } }[];
    expect(Array.from(header?.text.text ?? '')).toHaveLength(150);
    expect(header?.text.text.endsWith('😀…')).toBe(true);
    expect(section?.text.text).toBe('(no reason recorded)');
  });
});

describe('approval requests in Slack', () => {
  it('carries Approve and Reject buttons whose values the operator API parses', async () => {
    const { runbookNotification } = await import('../../functions/core/notification');
    const { parseSlackAction } = await import('../../functions/operator/approval');
    const n = runbookNotification(
      { ...openedStall, runbook: 'primary-failover' },
      'approval-requested',
      'approval needed',
    );
    const actions = slackMessage(n).blocks.find(
      (b) => (b as { block_id?: string }).block_id === 'approval',
    ) as {
      elements: { value: string; action_id: string }[];
    };
    expect(actions.elements.map((e) => e.action_id)).toEqual(['approve', 'reject']);
    const pressed = (value: string) =>
      parseSlackAction(
        new URLSearchParams({
          payload: JSON.stringify({ user: { id: 'U012ABCDEF', username: 'dana' }, actions: [{ value }] }),
        }).toString(),
      );
    expect(pressed(actions.elements[0]?.value ?? '')).toEqual({
      clusterId: openedStall.clusterId,
      incidentId: openedStall.incidentId,
      approved: true,
      userId: 'U012ABCDEF',
      by: 'slack:U012ABCDEF',
    });
    expect(pressed(actions.elements[1]?.value ?? '').approved).toBe(false);
  });

  it('has no approval buttons on other messages', () => {
    const blocks = slackMessage(incidentNotification(openedStall, 'opened')).blocks;
    expect(blocks.some((b) => (b as { block_id?: string }).block_id === 'approval')).toBe(false);
  });
});

describe('messages for split brain, wrong source and data loss', () => {
  const incident = (over: Partial<Incident>): Incident => ({
    ...openedStall,
    outbox: {},
    timeline: [
      {
        at: T0,
        event: 'opened',
        from: 'FENCED',
        to: (over.kind ?? 'SPLIT_BRAIN') as NodeStatus,
        reason: 'reports itself a writable primary, but the recorded primary is r3 (epoch 2)',
      },
    ],
    ...over,
  });

  it.each([
    ['redis', 'REPLICAOF the recorded primary'],
    ['postgresql', 'needs pg_rewind or a `rebuild` hook'],
    ['mariadb', 'super_read_only and repointed with GTID'],
  ] as const)('tells what happened to a SPLIT_BRAIN %s node and how it is demoted', (engine, demotion) => {
    const n = incidentNotification(
      incident({
        kind: 'SPLIT_BRAIN',
        severity: 'critical',
        role: 'primary',
        engine,
        runbook: 'replica-recovery',
      }),
      'opened',
    );
    expect(n.content.title).toBe(':fire: SPLIT_BRAIN: cache-redis/r2 (primary) — incident opened');
    expect(n.content.description).toContain('the recorded primary is r3 (epoch 2)');
    expect(n.content.nextSteps[0]).toContain('Two nodes may be taking writes');
    expect(n.content.nextSteps[1]).toContain('The replica-recovery runbook demotes it');
    expect(n.content.nextSteps[1]).toContain(demotion);
    expect(n.content.nextSteps.join(' ')).not.toContain('restarts replication');
  });

  it('tells the operator to demote by hand when the cluster mode is off (no runbook)', () => {
    const n = incidentNotification(
      incident({ kind: 'SPLIT_BRAIN', severity: 'critical', engine: 'redis', runbook: undefined }),
      'opened',
    );
    expect(n.content.nextSteps[1]).toMatch(/^No runbook \(mode off\): demote it by hand now\. Redis: /);
  });

  it('tells that a WRONG_SOURCE replica is repointed to the recorded primary', () => {
    const n = incidentNotification(
      incident({ kind: 'WRONG_SOURCE', severity: 'major', runbook: 'replica-recovery' }),
      'opened',
    );
    expect(n.content.nextSteps).toEqual([
      "This replica does not receive the recorded primary's writes: its data is stale and it is no failover candidate.",
      'The replica-recovery runbook repoints it to the recorded primary (auto; approve asks first; dry-run only reports).',
    ]);
  });

  it('pages a DATA_LOSS with what to do now, and says it does not resolve on its own', () => {
    const n = incidentNotification(
      incident({ kind: 'DATA_LOSS', severity: 'critical', role: 'primary', runbook: undefined }),
      'opened',
    );
    expect(n.content.title.startsWith(':fire: DATA_LOSS:')).toBe(true);
    expect(n.content.nextSteps[0]).toBe(
      'No runbook: data is gone on this primary and nothing automatic brings it back. Act now.',
    );
    expect(n.content.nextSteps.join(' ')).toContain('REPLICAOF NO ONE on the most advanced one');
    expect(n.content.nextSteps.join(' ')).toContain('it does not resolve on its own');
  });
});
