import type { SNSEventRecord } from 'aws-lambda';
import type { Log } from '../adapters/log';
import type { Once } from '../adapters/once';
import { postToSlack, type SlackPostOptions } from '../adapters/slack';
import {
  alarmSlackMessage,
  asCloudWatchAlarm,
  plainSlackMessage,
  type SlackPayload,
} from '../core/alarm-message';
import { type ChatbotNotification, slackMessage } from '../core/notification';

export interface NotifyDeps {
  /** The incoming-webhook URL (from Secrets Manager in AWS); read when needed, cached by the source. */
  readonly webhookUrl: () => Promise<string>;
  readonly logger: Log;
  /**
   * Runs `deliver` once per notification id: a re-delivered SNS message (or a second publish of the same
   * incident revision) posts nothing. Powertools idempotency in AWS.
   */
  readonly once: Once;
  readonly post?: SlackPostOptions;
  /** The function's region, for console links of alarms whose ARN does not name one. */
  readonly region?: string;
}

/** The message as our Chatbot-format notification, or undefined when it is not one. */
function asNotification(value: unknown): ChatbotNotification | undefined {
  const n = value as Partial<ChatbotNotification> | null;
  const ours =
    n?.version === '1.0' &&
    n.source === 'custom' &&
    typeof n.id === 'string' &&
    n.content !== undefined &&
    n.metadata?.additionalContext !== undefined;
  return ours ? (n as ChatbotNotification) : undefined;
}

/** What one SNS message becomes in Slack, and the key it is posted once under. */
export interface Rendered {
  readonly kind: 'notification' | 'alarm' | 'plain';
  readonly key: string;
  readonly payload: SlackPayload;
  /** Why a plain message was not rendered. */
  readonly reason?: string;
}

/**
 * Every SNS message renders to something: our notifications as Block Kit, CloudWatch alarm state changes
 * (the stack's alarms publish to the same topic) as alarm messages, anything else posted as plain text with
 * the reason. Nothing here throws, so a message we do not understand is never retried into the DLQ.
 */
export function render(record: SNSEventRecord, region?: string): Rendered {
  const { Message: body, MessageId: messageId, Subject: subject } = record.Sns;
  const plain = (reason: string): Rendered => ({
    kind: 'plain',
    key: `sns#${messageId}`,
    payload: plainSlackMessage(subject, body, reason),
    reason,
  });
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return plain(`SNS message ${messageId} is not JSON`);
  }
  const alarm = asCloudWatchAlarm(value);
  if (alarm) {
    const key = `alarm#${alarm.AlarmArn ?? alarm.AlarmName}#${alarm.NewStateValue}#${alarm.StateChangeTime}`;
    return { kind: 'alarm', key, payload: alarmSlackMessage(alarm, region) };
  }
  const notification = asNotification(value);
  if (notification)
    return { kind: 'notification', key: notification.id, payload: slackMessage(notification) };
  return plain(
    `SNS message ${messageId} is neither a replica-sentinel notification (version, source, id, content, metadata.additionalContext) nor a CloudWatch alarm`,
  );
}

/** Posts one SNS message to Slack, once per rendered key: true if this call posted it. */
export async function notifySlack(record: SNSEventRecord, deps: NotifyDeps): Promise<boolean> {
  const rendered = render(record, deps.region);
  if (rendered.reason) deps.logger.warn('posting an SNS message as plain text', { reason: rendered.reason });
  let posted = false;
  await deps.once(rendered.key, async () => {
    const url = await deps.webhookUrl();
    const result = await postToSlack(url, rendered.payload, deps.post);
    deps.logger.info('posted to Slack', {
      kind: rendered.kind,
      notificationId: rendered.key,
      attempts: result.attempts,
      waitedMs: result.waitedMs,
    });
    posted = true;
  });
  return posted;
}
