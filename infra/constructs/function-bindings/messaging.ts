/**
 * {@link SentinelFunction}'s bindings to messaging: the alerts topic it publishes to and the quarantine queue
 * it sends to, each with the KMS actions a producer needs on the encrypted topic or queue.
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { SentinelFunction } from '../sentinel-function';

/** What an SQS producer needs on a KMS-encrypted queue (SQS developer guide, "Key management"). */
export const SQS_PRODUCER_KEY_ACTIONS: readonly string[] = ['kms:GenerateDataKey', 'kms:Decrypt'];

/** What a publisher needs on the KMS key of an encrypted SNS topic (SNS developer guide, "Key management"). */
export const SNS_PUBLISHER_KEY_ACTIONS: readonly string[] = ['kms:GenerateDataKey', 'kms:Decrypt'];

/** {@link SentinelFunction.bindTopic}: see there. */
export function bindTopic(target: SentinelFunction, topic: ITopic, options: { readonly key?: IKey }): void {
  target.fn.addEnvironment('ALERTS_TOPIC_ARN', topic.topicArn);
  target.role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }),
  );
  (options.key ?? topic.masterKey)?.grant(target.role, ...SNS_PUBLISHER_KEY_ACTIONS);
}

/** {@link SentinelFunction.bindQuarantine}: see there. */
export function bindQuarantine(target: SentinelFunction, queue: IQueue): void {
  target.fn.addEnvironment('QUARANTINE_QUEUE_URL', queue.queueUrl);
  queue.grant(target.role, 'sqs:SendMessage');
  queue.encryptionMasterKey?.grant(target.role, ...SQS_PRODUCER_KEY_ACTIONS);
}
