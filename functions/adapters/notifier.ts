import type { SNSClient } from '@aws-sdk/client-sns';
import type { ChatbotNotification } from '../core/notification';
import { type ClientSource, clientOf } from './clients';

/** Where incident notifications go. */
export interface Notifier {
  publish(notification: ChatbotNotification): Promise<void>;
}

/**
 * The alerts SNS topic. The notification id (`incidentId#revision`) lets subscribers deduplicate. The SNS
 * package is loaded on the first publish (clients.ts).
 */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: ClientSource<SNSClient>,
    private readonly topicArn: string,
  ) {}

  async publish(notification: ChatbotNotification): Promise<void> {
    const [client, { PublishCommand }] = await Promise.all([
      clientOf(this.client),
      import('@aws-sdk/client-sns'),
    ]);
    await client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Message: JSON.stringify(notification),
        Subject: notification.content.title.replace(/:[a-z_]+:\s*/g, '').slice(0, 99),
        MessageAttributes: {
          notificationId: { DataType: 'String', StringValue: notification.id },
          severity: {
            DataType: 'String',
            StringValue: notification.metadata.additionalContext.severity ?? 'unknown',
          },
        },
      }),
    );
  }
}
