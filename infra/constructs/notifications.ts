import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { LoggingLevel, SlackChannelConfiguration } from 'aws-cdk-lib/aws-chatbot';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, ManagedPolicy, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { NOTIFY_SLACK_IDEMPOTENCY_SCOPE } from '../../functions/adapters/table-definition';
import { functionEntry } from '../paths';
import { createLogsKey } from './logs-key';
import { SentinelFunction } from './sentinel-function';
import { SqsAsyncFailureDestination } from './sqs-failure-destination';

/**
 * Scope of notify-slack's idempotency records (`onceInTable(..., 'notify-slack')` in
 * functions/notify-slack/index.ts): the only partition of the table the function may touch.
 */
export { NOTIFY_SLACK_IDEMPOTENCY_SCOPE };

/** Props of {@link Notifications}. */
export interface NotificationsProps {
  /** The node-state table (StateStore.table): notify-slack keeps its idempotency records there. */
  readonly table: ITableV2;
  /**
   * The table's KMS key.
   *
   * @default - `table.encryptionKey`
   */
  readonly tableKey?: IKey;
  /**
   * Customer-managed key of the alerts topic. Publishers need `kms:GenerateDataKey` and `kms:Decrypt`
   * on it (SentinelFunction.bindTopic grants them).
   *
   * @default - a new key with rotation on
   */
  readonly key?: IKey;
  /**
   * ID of the Slack workspace authorized with AWS Chatbot (the console shows it after the one-time
   * Slack authorization, e.g. `T0123ABCD`). Give it together with {@link slackChannelId} to deliver the
   * alerts to a Chatbot Slack channel.
   *
   * @default - no Chatbot channel
   */
  readonly slackWorkspaceId?: string;
  /**
   * ID of the Slack channel the alerts go to (e.g. `C0123ABCD`); with {@link slackWorkspaceId}.
   *
   * @default - no Chatbot channel
   */
  readonly slackChannelId?: string;
  /**
   * Complete ARN (with its 6-character suffix) of a Secrets Manager secret, in this stack's region,
   * whose value is a Slack incoming-webhook URL. When given, the notify-slack function subscribes to the
   * topic and posts Block Kit messages to that webhook (for users without AWS Chatbot).
   *
   * @default - no notify-slack function
   */
  readonly slackWebhookSecretArn?: string;
  /**
   * The customer-managed KMS key that encrypts the webhook secret, if it is not the AWS managed
   * `aws/secretsmanager` key: notify-slack then gets `kms:Decrypt` on it (through Secrets Manager only).
   *
   * @default - the secret uses the AWS managed key; no KMS grant
   */
  readonly slackWebhookSecretKey?: IKey;
  /**
   * Key for notify-slack's log group; needs the CloudWatch Logs key policy of `createLogsKey()`.
   *
   * @default - a new key from `createLogsKey()` (only when notify-slack is deployed)
   */
  readonly logKey?: IKey;
  /**
   * Retention of notify-slack's log group.
   *
   * @default RetentionDays.ONE_MONTH (SentinelFunction's default)
   */
  readonly logRetention?: RetentionDays;
}

/**
 * Notifications (docs/DESIGN.md §6): one SNS topic for every alert, in the AWS Chatbot custom-notification
 * format, and up to two ways to Slack.
 *
 * - Topic: encrypted with a customer-managed key, TLS-only (a topic policy denies publishing without
 *   TLS). The key policy is CDK's default (the account may grant use through IAM) and nothing more:
 *   publishers get the KMS actions through IAM (SentinelFunction.bindTopic); SNS decrypts messages itself
 *   when it delivers them to Lambda or to Chatbot's HTTPS endpoint, so neither subscriber needs the key.
 * - AWS Chatbot (when `slackWorkspaceId` and `slackChannelId` are given): a Slack channel configuration
 *   subscribed to the topic. It only renders notifications, so its role has no permissions at all and its
 *   guardrail policy denies every action: nobody in the channel can run AWS commands through it.
 * - notify-slack (when `slackWebhookSecretArn` is given): a Lambda subscriber that posts to an
 *   incoming webhook. SNS invokes it asynchronously; Lambda retries a failed event twice, then sends it to
 *   the dead-letter queue (on-failure destination). Deliveries SNS itself cannot make (the function
 *   missing or throttled past SNS's retries) go to the same queue through the subscription's redrive
 *   policy. Messages are deduplicated per notification id with idempotency records in the table.
 */
export class Notifications extends Construct {
  /** The alerts topic (ALERTS_TOPIC_ARN of on-transition). */
  public readonly topic: Topic;
  /** The key of {@link topic}. */
  public readonly key: IKey;
  /** The webhook subscriber; only with `slackWebhookSecretArn`. */
  public readonly notifySlack?: SentinelFunction;
  /** The Chatbot Slack channel configuration; only with `slackWorkspaceId` and `slackChannelId`. */
  public readonly chatbot?: SlackChannelConfiguration;
  /**
   * Notifications that never reached the webhook, for a human: Lambda's on-failure records of
   * notify-slack (request payload, error) and SNS deliveries to it that failed. Only with notify-slack.
   */
  public readonly deadLetterQueue?: Queue;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);

    if ((props.slackWorkspaceId === undefined) !== (props.slackChannelId === undefined)) {
      throw new Error(
        `${this.node.path}: an AWS Chatbot Slack channel needs both slackWorkspaceId and slackChannelId ` +
          `(got only ${props.slackWorkspaceId === undefined ? 'slackChannelId' : 'slackWorkspaceId'})`,
      );
    }

    this.key =
      props.key ??
      new Key(this, 'Key', {
        enableKeyRotation: true,
        description: 'replica-sentinel: encrypts the alerts topic',
      });
    this.topic = new Topic(this, 'Alerts', {
      displayName: 'replica-sentinel alerts',
      masterKey: this.key,
      enforceSSL: true,
      // SHA256 signatures for the messages HTTPS subscribers (Chatbot) verify.
      signatureVersion: '2',
    });

    if (props.slackWorkspaceId !== undefined && props.slackChannelId !== undefined) {
      this.chatbot = this.chatbotChannel(props.slackWorkspaceId, props.slackChannelId);
    }

    if (props.slackWebhookSecretArn !== undefined) {
      const { notifySlack, deadLetterQueue } = this.webhookSubscriber(props, props.slackWebhookSecretArn);
      this.notifySlack = notifySlack;
      this.deadLetterQueue = deadLetterQueue;
    }
  }

  private chatbotChannel(slackWorkspaceId: string, slackChannelId: string): SlackChannelConfiguration {
    const stack = Stack.of(this);
    // A guardrail caps what the channel may do whatever its role allows. Custom notifications need no
    // AWS permission to render, so the cap is nothing; the AWS default guardrail is AdministratorAccess.
    const guardrail = new ManagedPolicy(this, 'ChatbotGuardrail', {
      description:
        'replica-sentinel: AWS Chatbot channel guardrail, notifications only (denies every action)',
      statements: [new PolicyStatement({ effect: Effect.DENY, actions: ['*'], resources: ['*'] })],
    });
    return new SlackChannelConfiguration(this, 'Chatbot', {
      // Chatbot configuration names are global to the account, so the region is part of it.
      slackChannelConfigurationName: `${stack.stackName}-${stack.region}-alerts`.slice(0, 128),
      slackWorkspaceId,
      slackChannelId,
      notificationTopics: [this.topic],
      guardrailPolicies: [guardrail],
      loggingLevel: LoggingLevel.ERROR,
    });
  }

  private webhookSubscriber(
    props: NotificationsProps,
    secretArn: string,
  ): { notifySlack: SentinelFunction; deadLetterQueue: Queue } {
    // Its own key: its policy names the topic (SNS writes the subscription's failed deliveries with it),
    // and a topic key naming its own topic would be a circular dependency.
    const deadLetterKey = new Key(this, 'DeadLetterKey', {
      enableKeyRotation: true,
      description: 'replica-sentinel: encrypts the notify-slack dead-letter queue',
    });
    deadLetterKey.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('sns.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: {
          ArnEquals: { 'aws:SourceArn': this.topic.topicArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    const deadLetterQueue = new Queue(this, 'DeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: deadLetterKey,
      enforceSSL: true,
    });
    Validations.of(deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue IS the dead-letter queue of notify-slack: the on-failure destination of its asynchronous ' +
        "invocations and the RedrivePolicy target of its SNS subscription. SQS3 only recognises queues named in another queue's RedrivePolicy.",
    });

    const secret = Secret.fromSecretAttributes(this, 'SlackWebhookSecret', {
      secretCompleteArn: secretArn,
      encryptionKey: props.slackWebhookSecretKey,
    });
    const notifySlack = new SentinelFunction(this, 'NotifySlack', {
      entry: functionEntry('notify-slack'),
      serviceName: 'notify-slack',
      description: 'replica-sentinel: posts alerts from the SNS topic to a Slack incoming webhook',
      logKey: props.logKey ?? createLogsKey(this, 'LogKey'),
      logRetention: props.logRetention,
      timeout: Duration.seconds(30),
    })
      .bindIdempotencyRecords(props.table, NOTIFY_SLACK_IDEMPOTENCY_SCOPE, { key: props.tableKey })
      .bindSlackWebhookSecret(secret);

    notifySlack.fn.configureAsyncInvoke({
      retryAttempts: 2,
      onFailure: new SqsAsyncFailureDestination(deadLetterQueue),
    });
    this.topic.addSubscription(new LambdaSubscription(notifySlack.fn, { deadLetterQueue }));
    return { notifySlack, deadLetterQueue };
  }
}
