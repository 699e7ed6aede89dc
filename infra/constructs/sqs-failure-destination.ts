import type {
  DestinationConfig,
  DestinationOptions,
  DlqDestinationConfig,
  IEventSourceMapping,
  IFunction,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SQS_PRODUCER_KEY_ACTIONS } from './function-bindings/messaging';

/** `sqs:SendMessage` on the queue and the SQS producer actions on its KMS key: all a sender needs. */
function grantSend(queue: IQueue, fn: IFunction): void {
  queue.grant(fn, 'sqs:SendMessage');
  queue.encryptionMasterKey?.grant(fn, ...SQS_PRODUCER_KEY_ACTIONS);
}

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
    grantSend(this.failureQueue, targetHandler);
    return { destination: this.failureQueue.queueArn };
  }
}

/**
 * `SqsDestination` (a destination of asynchronous invocations) with the same narrower grant as
 * {@link SqsFailureDestination}: Lambda sends the invocation record with the function's execution role,
 * which gets `sqs:SendMessage` on the queue and the SQS producer actions on its key, no wildcard.
 *
 * @example
 * fn.configureAsyncInvoke({ retryAttempts: 2, onFailure: new SqsAsyncFailureDestination(deadLetterQueue) });
 */
export class SqsAsyncFailureDestination extends SqsDestination {
  private readonly failureQueue: IQueue;

  constructor(queue: IQueue) {
    super(queue);
    this.failureQueue = queue;
  }

  public override bind(_scope: Construct, fn: IFunction, _options?: DestinationOptions): DestinationConfig {
    grantSend(this.failureQueue, fn);
    return { destination: this.failureQueue.queueArn };
  }
}
