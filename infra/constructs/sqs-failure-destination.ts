import type { DlqDestinationConfig, IEventSourceMapping, IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { SQS_PRODUCER_KEY_ACTIONS } from './sentinel-function';

/**
 * `SqsDlq` with a narrower grant. `SqsDlq` calls `queue.grantSendMessages()`, which on a KMS queue also
 * grants `kms:ReEncrypt*` and `kms:GenerateDataKey*` (cdk-nag IAM5). The event source mapping only
 * needs `sqs:SendMessage` on the queue and the SQS producer actions on its key, so that is all this grants;
 * the `DestinationConfig.OnFailure` it produces is the same.
 */
export class SqsFailureDestination extends SqsDlq {
  private readonly failureQueue: IQueue;

  constructor(queue: IQueue) {
    super(queue);
    this.failureQueue = queue;
  }

  public override bind(_target: IEventSourceMapping, targetHandler: IFunction): DlqDestinationConfig {
    this.failureQueue.grant(targetHandler, 'sqs:SendMessage');
    this.failureQueue.encryptionMasterKey?.grant(targetHandler, ...SQS_PRODUCER_KEY_ACTIONS);
    return { destination: this.failureQueue.queueArn };
  }
}
