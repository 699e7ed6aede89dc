import type { SNSEvent } from 'aws-lambda';

/** An SNS event as Lambda delivers it to a subscriber of the alerts topic: one record carrying `message` (JSON unless a string). */
export function snsEvent(message: object | string, messageId = 'msg-1'): SNSEvent {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:alerts:1b2c',
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts',
          Subject: 'STALLED',
          Message: typeof message === 'string' ? message : JSON.stringify(message),
          Timestamp: '2026-11-22T23:01:00.000Z',
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem',
          UnsubscribeUrl: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
          MessageAttributes: {},
        },
      },
    ],
  };
}
