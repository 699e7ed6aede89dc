import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ChatbotNotification } from '../core/notification';

/** Where incident notifications go. */
export interface Notifier {
  publish(notification: ChatbotNotification): Promise<void>;
}

/** The alerts SNS topic. The notification id (`incidentId#revision`) lets subscribers deduplicate. */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async publish(notification: ChatbotNotification): Promise<void> {
    await this.client.send(
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
