import type { SNSEventRecord } from 'aws-lambda';
import type { Log } from '../adapters/log';
import type { Once } from '../adapters/once';
import { postToSlack, type SlackPostOptions } from '../adapters/slack';
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
}

export class InvalidNotificationError extends Error {
  override readonly name = 'InvalidNotificationError';
}

/** Parses the SNS message as our Chatbot-format notification, or says what is wrong. */
export function parseNotification(record: SNSEventRecord): ChatbotNotification {
  let value: unknown;
  try {
    value = JSON.parse(record.Sns.Message);
  } catch {
    throw new InvalidNotificationError(`SNS message ${record.Sns.MessageId} is not JSON`);
  }
  const n = value as Partial<ChatbotNotification>;
  if (
    n?.version !== '1.0' ||
    n.source !== 'custom' ||
    typeof n.id !== 'string' ||
    !n.content ||
    !n.metadata?.additionalContext
  ) {
    throw new InvalidNotificationError(
      `SNS message ${record.Sns.MessageId} is not a replica-sentinel notification (version, source, id, content, metadata.additionalContext)`,
    );
  }
  return n as ChatbotNotification;
}

/** Posts one notification to Slack as Block Kit, once per notification id: true if this call posted it. */
export async function notifySlack(record: SNSEventRecord, deps: NotifyDeps): Promise<boolean> {
  const notification = parseNotification(record);
  let posted = false;
  await deps.once(notification.id, async () => {
    const url = await deps.webhookUrl();
    const result = await postToSlack(url, slackMessage(notification), deps.post);
    deps.logger.info('posted to Slack', {
      notificationId: notification.id,
      attempts: result.attempts,
      waitedMs: result.waitedMs,
    });
    posted = true;
  });
  return posted;
}
