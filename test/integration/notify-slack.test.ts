import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from '@jest/globals';
import type { SNSEvent } from 'aws-lambda';
import { onceInTable } from '../../functions/adapters/once';
import { SlackDeliveryError } from '../../functions/adapters/slack';
import type { Incident } from '../../functions/core/incidents';
import { incidentNotification } from '../../functions/core/notification';
import { createHandler } from '../../functions/notify-slack/handler';
import { loadEvent } from '../fixtures/events/index';
import { useRawClient, useTestTable } from '../support/dynamodb';
import { T0 } from '../support/heartbeats';
import { openedIncidentFor } from '../support/incidents';
import { lambdaContext } from '../support/lambda';
import { snsEvent } from '../support/sns';
import { startWebhookServer } from '../support/webhook-server';

const context = lambdaContext('notify-slack');

function openedIncident(nodeId: string): Incident {
  return openedIncidentFor({
    clusterId: 'orders-pg',
    nodeId,
    role: 'replica',
    from: 'HEALTHY',
    to: 'STALLED',
    version: 9,
    at: T0,
    reason: 'applied position 0/3000000 has not advanced for 60s while the source is at 0/3018000',
    lagSeconds: 61.26,
    lagUnits: 98304,
    appliedPosition: '0/3000000',
    sourcePosition: '0/3018000',
  });
}

describe('notify-slack against a local webhook endpoint', () => {
  const table = useTestTable('notify');
  const raw = useRawClient();

  /** The handler with a logger whose output the test keeps, sleeping no real time. */
  function handlerFor(url: string, scope: string) {
    const lines: string[] = [];
    const logger = new Logger({ serviceName: 'notify-slack', logLevel: 'DEBUG' });
    const waits: number[] = [];
    // Powertools' Logger writes to process.stdout through its own Console: capture the streams themselves.
    const originals = { out: process.stdout.write, err: process.stderr.write };
    const capture = (chunk: string | Uint8Array): boolean => {
      lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    const handler = createHandler(
      {
        webhookUrl: async () => url,
        once: onceInTable(raw(), table.tableName, scope),
        post: {
          sleep: async (ms) => {
            waits.push(ms);
          },
          random: () => 0.5,
        },
      },
      { logger },
    );
    const invoke = async (event: SNSEvent) => {
      process.stdout.write = capture as typeof process.stdout.write;
      process.stderr.write = capture as typeof process.stderr.write;
      try {
        return await handler(event, context);
      } finally {
        process.stdout.write = originals.out;
        process.stderr.write = originals.err;
      }
    };
    return { invoke, lines, waits };
  }

  it('posts the exact Block Kit message for an opened incident', async () => {
    const server = await startWebhookServer([{ status: 200 }]);
    try {
      const incident = openedIncident('pg-2');
      const { invoke, lines } = handlerFor(server.url, 'exact');
      await invoke(
        snsEvent(incidentNotification(incident, 'opened', { logsUrl: 'https://console.example/logs' })),
      );

      expect(server.received).toHaveLength(1);
      expect(lines.join('')).toContain('"message":"posted to Slack"');
      expect(lines.join('')).not.toContain('SECRETxyz123');
      expect(server.received[0]?.path).toBe('/services/T0000/B0000/SECRETxyz123');
      expect(server.received[0]?.headers['content-type']).toBe('application/json');
      expect(server.received[0]?.body).toEqual({
        text: ':rotating_light: STALLED: orders-pg/pg-2 (replica) — incident opened',
        blocks: [
          {
            type: 'header',
            text: { type: 'plain_text', text: 'STALLED: orders-pg/pg-2 (replica) — incident opened' },
          },
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: 'applied position 0/3000000 has not advanced for 60s while the source is at 0/3018000',
            },
            fields: [
              { type: 'mrkdwn', text: '*Severity:*\nmajor' },
              { type: 'mrkdwn', text: '*Cluster:*\norders-pg' },
              { type: 'mrkdwn', text: '*Node:*\npg-2 (replica)' },
              { type: 'mrkdwn', text: '*Status change:*\nHEALTHY → STALLED' },
              { type: 'mrkdwn', text: '*Lag:*\n61.3s, 98304 units' },
              { type: 'mrkdwn', text: '*Applied / source:*\n0/3000000 / 0/3018000' },
            ],
          },
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text:
                '*What happens next*\nThe replica-recovery runbook restarts replication, verifies progress and escalates if it does not recover.\n' +
                'Logs: https://console.example/logs',
            },
          },
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                text: { type: 'plain_text', text: 'Logs' },
                url: 'https://console.example/logs',
              },
            ],
          },
          {
            type: 'context',
            elements: [{ type: 'mrkdwn', text: `incident ${incident.incidentId} · revision 1` }],
          },
        ],
      });
    } finally {
      await server.close();
    }
  });

  it('waits as long as Retry-After says on a 429, then delivers', async () => {
    const server = await startWebhookServer([
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 200 },
    ]);
    try {
      const { invoke, waits } = handlerFor(server.url, 'retry-after');
      await invoke(snsEvent(incidentNotification(openedIncident('pg-3'), 'opened')));
      expect(server.received).toHaveLength(2);
      expect(waits).toEqual([3000]);
      expect(server.received[1]?.body).toEqual(server.received[0]?.body);
    } finally {
      await server.close();
    }
  });

  it('posts once when SNS delivers the same notification twice', async () => {
    const server = await startWebhookServer([{ status: 200 }]);
    try {
      const { invoke } = handlerFor(server.url, 'dedupe');
      const message = incidentNotification(openedIncident('pg-4'), 'opened');
      await invoke(snsEvent(message, 'msg-a'));
      await invoke(snsEvent(message, 'msg-b'));
      expect(server.received).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('fails the invocation (so Lambda sends it to the DLQ) when the webhook keeps failing, never showing the URL', async () => {
    const server = await startWebhookServer([{ status: 503, body: 'upstream unavailable' }]);
    try {
      const { invoke, lines, waits } = handlerFor(server.url, 'failing');
      const error = await invoke(snsEvent(incidentNotification(openedIncident('pg-5'), 'opened'))).catch(
        (e: unknown) => e,
      );

      expect(error).toBeInstanceOf(SlackDeliveryError);
      expect((error as SlackDeliveryError).message).toBe(
        'Slack webhook failed after 5 attempts: HTTP 503 upstream unavailable',
      );
      expect(server.received).toHaveLength(5);
      expect(waits).toEqual([375, 750, 1500, 3000]);
      const everything = [...lines, (error as Error).message, (error as Error).stack ?? ''].join('\n');
      expect(everything).not.toContain('SECRETxyz123');
      expect(everything).not.toContain(server.url);

      // A later retry of the same event (Lambda's async retry) is not blocked by the failed attempt.
      const retry = await invoke(snsEvent(incidentNotification(openedIncident('pg-5'), 'opened'))).catch(
        (e: unknown) => e,
      );
      expect(retry).toBeInstanceOf(SlackDeliveryError);
      expect(server.received).toHaveLength(10);
    } finally {
      await server.close();
    }
  });

  it('renders a CloudWatch alarm from the alerts topic as an alarm message with a console link, once', async () => {
    const server = await startWebhookServer([{ status: 200 }]);
    try {
      const { invoke, lines } = handlerFor(server.url, 'alarm');
      const event = loadEvent<SNSEvent>('sns-cloudwatch-alarm');
      await invoke(event);
      await invoke(event); // SNS delivers at least once
      expect(server.received).toHaveLength(1);
      expect(lines.join('')).not.toContain('plain text');
      const name = 'ReplicaSentinel-ObservabilitySweepNotRunning8F2D1C4B-1QW2E3R4T5Y6';
      expect(server.received[0]?.body).toEqual({
        text: `:red_circle: ALARM: ${name}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: `ALARM: ${name}` } },
          {
            type: 'section',
            text: { type: 'mrkdwn', text: 'replica-sentinel: no silence sweep ran for 5 minutes' },
            fields: [
              { type: 'mrkdwn', text: '*State:*\nOK → ALARM' },
              { type: 'mrkdwn', text: '*Since:*\n2026-11-22T23:00:41.912+0000' },
              { type: 'mrkdwn', text: '*Account:*\n123456789012' },
              { type: 'mrkdwn', text: '*Region:*\nEU (Ireland)' },
            ],
          },
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: '*Reason*\nThreshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [Breaching].',
            },
          },
          {
            type: 'actions',
            elements: [
              {
                type: 'button',
                text: { type: 'plain_text', text: 'Alarm in CloudWatch' },
                url: `https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/${name}`,
              },
            ],
          },
          { type: 'context', elements: [{ type: 'mrkdwn', text: 'CloudWatch alarm · replica-sentinel' }] },
        ],
      });
    } finally {
      await server.close();
    }
  });

  it('posts the OK of the same alarm as a second message', async () => {
    const server = await startWebhookServer([{ status: 200 }]);
    try {
      const { invoke } = handlerFor(server.url, 'alarm-ok');
      const alarm = loadEvent<SNSEvent>('sns-cloudwatch-alarm');
      const body = JSON.parse(alarm.Records[0]?.Sns.Message ?? '{}') as Record<string, unknown>;
      await invoke(snsEvent(body, 'msg-alarm'));
      await invoke(
        snsEvent(
          {
            ...body,
            OldStateValue: 'ALARM',
            NewStateValue: 'OK',
            StateChangeTime: '2026-11-22T23:06:41.912+0000',
          },
          'msg-ok',
        ),
      );
      expect(server.received.map((r) => (r.body as { text: string }).text)).toEqual([
        ':red_circle: ALARM: ReplicaSentinel-ObservabilitySweepNotRunning8F2D1C4B-1QW2E3R4T5Y6',
        ':large_green_circle: OK: ReplicaSentinel-ObservabilitySweepNotRunning8F2D1C4B-1QW2E3R4T5Y6',
      ]);
    } finally {
      await server.close();
    }
  });

  it('posts a message it cannot render as plain text with the reason, instead of failing into the DLQ', async () => {
    const server = await startWebhookServer([{ status: 200 }]);
    try {
      const { invoke, lines } = handlerFor(server.url, 'invalid');
      await invoke(snsEvent({ hello: 'world' }));
      await invoke(snsEvent('disk almost full on bastion-1', 'msg-2'));
      expect(server.received.map((r) => r.body)).toEqual([
        {
          text: 'STALLED',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: 'STALLED' } },
            { type: 'section', text: { type: 'plain_text', text: '{"hello":"world"}' } },
            {
              type: 'context',
              elements: [
                {
                  type: 'mrkdwn',
                  text: 'posted as plain text: SNS message msg-1 is neither a replica-sentinel notification (version, source, id, content, metadata.additionalContext) nor a CloudWatch alarm',
                },
              ],
            },
          ],
        },
        {
          text: 'STALLED',
          blocks: [
            { type: 'header', text: { type: 'plain_text', text: 'STALLED' } },
            { type: 'section', text: { type: 'plain_text', text: 'disk almost full on bastion-1' } },
            {
              type: 'context',
              elements: [{ type: 'mrkdwn', text: 'posted as plain text: SNS message msg-2 is not JSON' }],
            },
          ],
        },
      ]);
      expect(lines.join('')).toContain('"message":"posting an SNS message as plain text"');
    } finally {
      await server.close();
    }
  });
});
