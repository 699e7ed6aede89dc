import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { SNSEvent } from 'aws-lambda';
import { SnsNotifier } from '../../functions/adapters/notifier';
import { onceInTable } from '../../functions/adapters/once';
import { createHandler as createNotifySlack } from '../../functions/notify-slack/handler';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { localEndpoint } from '../support/dynamodb';
import { failFirstCalls } from '../support/faults';
import { lambdaContext, silentLogger } from '../support/lambda';
import { streamTableFixture } from './harness';
import { incidentPath, sfnClient, snsClient } from './incident-path';
import {
  type PublishedMessage,
  startSlackWebhook,
  startSnsEndpoint,
  startStepFunctionsEndpoint,
  type WebhookAnswer,
} from './local-aws';

const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:replica-sentinel-alerts';
/** notify-slack's asynchronous invocation config (infra/constructs/notifications.ts). */
const NOTIFY_RETRIES = 2;
/** A webhook that never answers is given up on after this long (the adapter's own timeout is 10 s). */
const WEBHOOK_TIMEOUT_MS = 300;

/** The SNS → Lambda event for a published message, as SNS delivers it to a subscribed function. */
function snsEvent(message: PublishedMessage): SNSEvent {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${TOPIC_ARN}:1b2c`,
        Sns: {
          Type: 'Notification',
          MessageId: message.messageId,
          TopicArn: message.topicArn,
          Subject: message.subject ?? '',
          Message: message.message,
          Timestamp: '2026-11-22T23:01:30.000Z',
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem',
          UnsubscribeUrl: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
          MessageAttributes: Object.fromEntries(
            Object.entries(message.attributes).map(([k, v]) => [k, { Type: 'String', Value: v }]),
          ),
        },
      },
    ],
  };
}

describe('SNS and the Slack webhook failing', () => {
  const fixture = streamTableFixture('notifications');
  const { figures } = fixture;
  let raw: DynamoDBClient;
  beforeAll(() => {
    raw = new DynamoDBClient({ ...LOCAL_AWS, endpoint: localEndpoint() });
  });
  afterAll(() => raw.destroy());

  /**
   * A stalled replica's incident through on-transition (SNS Publish failing `publishFailures` times), then
   * every published message to notify-slack as Lambda invokes an SNS subscriber: asynchronously, retried
   * twice, then sent to the dead-letter queue with the error. `snsDeliveries` delivers each message that
   * many times (SNS is at least once).
   */
  async function run(
    clusterId: string,
    options: { publishFailures: number; webhook: (request: number) => WebhookAnswer; snsDeliveries?: number },
  ) {
    const sfn = await startStepFunctionsEndpoint();
    const sns = await startSnsEndpoint();
    const slack = await startSlackWebhook(options.webhook);
    const sfnSdk = sfnClient(sfn.url);
    const snsSdk = snsClient(sns.url);
    const publishFaults = failFirstCalls(snsSdk, {
      command: 'PublishCommand',
      count: options.publishFailures,
      how: 'throttle',
      errorName: 'Throttling',
    });
    const waits: number[] = [];
    const notifySlack = createNotifySlack(
      {
        webhookUrl: async () => slack.url,
        once: onceInTable(raw, fixture.table.tableName, `reliability-${clusterId}`),
        post: {
          sleep: async (ms) => {
            waits.push(ms);
          },
          random: () => 0.5,
          fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) }),
        },
      },
      { logger: silentLogger() },
    );
    const deadLetters: { messageId: string; reason: string }[] = [];
    let invocations = 0;
    try {
      const path = incidentPath(fixture.table, fixture.poller, {
        sfn: sfnSdk,
        notifier: new SnsNotifier(snsSdk, TOPIC_ARN),
      });
      await path.stallReplica(clusterId);
      await path.deliver(await path.transitions(clusterId));
      for (const message of sns.published) {
        for (let delivery = 0; delivery < (options.snsDeliveries ?? 1); delivery++) {
          let lastError: Error | undefined;
          for (let attempt = 0; attempt <= NOTIFY_RETRIES; attempt++) {
            invocations++;
            try {
              await notifySlack(
                snsEvent({ ...message, messageId: `${message.messageId}-${delivery}` }),
                lambdaContext('notify-slack'),
              );
              lastError = undefined;
              break;
            } catch (error) {
              lastError = error as Error;
            }
          }
          if (lastError)
            deadLetters.push({
              messageId: message.messageId,
              reason: `${lastError.name}: ${lastError.message}`,
            });
        }
      }
      const incidents = await path.incidents(clusterId);
      const notificationIds = sns.published.map((m) => m.attributes.notificationId);
      const posted = slack.delivered.length;
      figures.records += path.heartbeats();
      // Faults the notification came through (not those that ended in a dead letter).
      figures.throttlesSurvived +=
        (path.failures.length === 0 ? publishFaults.total() : 0) +
        (deadLetters.length === 0 ? slack.requests() - posted : 0);
      figures.duplicatedEffects +=
        Math.max(0, posted - new Set(notificationIds).size) +
        Math.max(0, sfn.executions().length - incidents.length);
      figures.lost += new Set(notificationIds).size - posted - deadLetters.length > 0 ? 1 : 0;
      return {
        incidents,
        executions: sfn.executions(),
        published: sns.published,
        notificationIds,
        slack,
        slackRequests: slack.requests(),
        waits,
        deadLetters,
        invocations,
        streamFailures: path.failures,
        publishFaults,
      };
    } finally {
      sfnSdk.destroy();
      snsSdk.destroy();
      await Promise.all([sfn.close(), sns.close(), slack.close()]);
    }
  }

  it('starts the runbook once, publishes after two throttled SNS calls, and posts to Slack once', async () => {
    const result = await run('notify-sns-throttled', {
      publishFailures: 2,
      webhook: () => ({ status: 200 }),
    });

    expect(result.streamFailures).toEqual([]);
    expect(result.publishFaults.total()).toBe(2);
    expect(result.executions).toHaveLength(1);
    expect(result.incidents).toHaveLength(1);
    const incident = result.incidents[0];
    expect(incident).toMatchObject({ state: 'OPEN', kind: 'STALLED', outbox: {} });
    expect(result.notificationIds).toEqual([`${incident?.incidentId}#1`]);
    expect(result.slack.delivered.map((d) => d.text)).toEqual([
      expect.stringContaining('STALLED: notify-sns-throttled/pg-2 (replica) — incident opened'),
    ]);
    expect(result.deadLetters).toEqual([]);
  });

  it('posts once after the webhook answered 503, 429 with Retry-After, and nothing at all', async () => {
    const script: WebhookAnswer[] = [
      { status: 503, body: 'upstream unavailable' },
      { status: 429, headers: { 'retry-after': '2' } },
      'hang',
      { status: 200 },
    ];
    const result = await run('notify-slack-flaky', {
      publishFailures: 0,
      webhook: (i) => script[Math.min(i, script.length - 1)] as WebhookAnswer,
    });

    expect(result.slackRequests).toBe(4);
    expect(result.slack.delivered).toHaveLength(1);
    expect(result.waits).toEqual([375, 2000, 1500]);
    expect(result.invocations).toBe(1);
    expect(result.deadLetters).toEqual([]);
  });

  it('posts once when a failed invocation is retried and SNS then delivers the message a second time', async () => {
    const result = await run('notify-slack-retried', {
      publishFailures: 0,
      webhook: (i) => (i < 5 ? { status: 500 } : { status: 200 }),
      snsDeliveries: 2,
    });

    // The first invocation gave up after 5 attempts; Lambda's retry posted; the second delivery posted nothing.
    expect(result.slackRequests).toBe(6);
    expect(result.invocations).toBe(3);
    expect(result.slack.delivered).toHaveLength(1);
    expect(result.deadLetters).toEqual([]);
  });

  it('dead-letters the notification with its reason when Slack stays down, while the runbook still started', async () => {
    const result = await run('notify-slack-down', {
      publishFailures: 0,
      webhook: () => ({ status: 503, body: 'upstream unavailable' }),
    });

    expect(result.executions).toHaveLength(1);
    expect(result.incidents[0]).toMatchObject({ state: 'OPEN', runbook: 'replica-recovery', outbox: {} });
    expect(result.invocations).toBe(1 + NOTIFY_RETRIES);
    expect(result.slackRequests).toBe(5 * (1 + NOTIFY_RETRIES));
    expect(result.slack.delivered).toEqual([]);
    expect(result.deadLetters).toEqual([
      {
        messageId: result.published[0]?.messageId,
        reason: 'SlackDeliveryError: Slack webhook failed after 5 attempts: HTTP 503 upstream unavailable',
      },
    ]);
    expect(result.deadLetters[0]?.reason).not.toContain('SECRETreliability');
  });

  it('sends the transition to the on-failure destination when SNS stays down, after the runbook started once', async () => {
    const result = await run('notify-sns-down', { publishFailures: 1000, webhook: () => ({ status: 200 }) });

    expect(result.executions).toHaveLength(1);
    expect(result.published).toEqual([]);
    // The mapping's 10 retries all failed on Publish: the record is in the on-failure destination with why,
    // and the undelivered notification stays in the incident's outbox.
    expect(result.publishFaults.total()).toBe(11);
    expect(result.streamFailures).toHaveLength(1);
    expect(result.streamFailures[0]?.reason).toMatch(/^RetryAttemptsExhausted \(10 retries\)/);
    expect(result.streamFailures[0]?.records.map((r) => r.dynamodb?.NewImage?.transitionTo?.S)).toEqual([
      'STALLED',
    ]);
    expect(result.incidents[0]).toMatchObject({
      state: 'OPEN',
      outbox: { notifyVersion: 1, runbook: 'replica-recovery' },
    });
  });
});
