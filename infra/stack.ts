import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { Detector } from './constructs/detector';
import { Ingest } from './constructs/ingest';
import { Notifications } from './constructs/notifications';
import { Observability } from './constructs/observability';
import { OperatorApi } from './constructs/operator-api';
import { type ProbeNetwork, Probes } from './constructs/probes';
import { type RunbookNetwork, Runbooks } from './constructs/runbooks';
import { StateStore } from './constructs/state-store';

/** Props of {@link ReplicaSentinelStack}: what `cdk deploy -c ...` configures (infra/build-app.ts). */
export interface ReplicaSentinelStackProps extends StackProps {
  /**
   * Seconds between two silence sweeps (Detector), an integer from 1 to 60.
   *
   * @default 10
   */
  readonly sweepIntervalSeconds?: number;
  /**
   * AWS Chatbot Slack channel that receives the alerts (Notifications).
   *
   * @default - no Chatbot channel
   */
  readonly chatbotSlack?: { readonly workspaceId: string; readonly channelId: string };
  /**
   * Complete ARN of the Secrets Manager secret holding a Slack incoming-webhook URL: deploys the
   * notify-slack subscriber (Notifications).
   *
   * @default - no notify-slack function
   */
  readonly slackWebhookSecretArn?: string;
  /**
   * ARN of the customer-managed KMS key of that secret, if it has one.
   *
   * @default - the secret uses the AWS managed key
   */
  readonly slackWebhookSecretKeyArn?: string;
  /**
   * ARNs of Lambda functions used as recovery hooks: runbook-steps may invoke exactly these (Runbooks).
   *
   * @default - none
   */
  readonly hookFunctionArns?: readonly string[];
  /**
   * Names of SSM Automation documents used as recovery hooks: runbook-steps may start exactly these.
   *
   * @default - none
   */
  readonly hookSsmDocuments?: readonly string[];
  /**
   * Complete ARN of the Secrets Manager secret with the database credentials of the built-in hooks.
   *
   * @default - none
   */
  readonly databaseSecretArn?: string;
  /**
   * VPC subnets and security group of runbook-steps, so built-in hooks reach private database servers.
   *
   * @default - not in a VPC
   */
  readonly runbookNetwork?: RunbookNetwork;
  /**
   * Complete ARN of the Secrets Manager secret holding the Slack app's signing secret: adds the
   * `POST /slack/actions` route to the operator API.
   *
   * @default - no Slack route
   */
  readonly slackSigningSecretArn?: string;
  /**
   * The probe function (from the configuration file's enabled `probe` section, infra/build-app.ts).
   *
   * @default - no probe function
   */
  readonly probes?: {
    readonly configText: string;
    readonly clusterIds: readonly string[];
    readonly intervalSeconds: number;
    readonly secretArns: readonly string[];
    readonly network?: ProbeNetwork;
  };
  /**
   * Complete ARNs of the per-cluster secrets (clusters' `credentialsSecretArn`, https hooks' `secretArn`)
   * that runbook-steps may read.
   *
   * @default - none
   */
  readonly clusterSecretArns?: readonly string[];
}

/**
 * replica-sentinel in one stack. It only wires the constructs (docs/CONVENTIONS.md); each owns its concern.
 * Runbooks come before the Detector, whose on-transition function starts them.
 * The stateful StateStore (table and key retained, deletion protection on) is passed to the stateless
 * parts as a typed prop, so a function change never touches the table.
 */
export class ReplicaSentinelStack extends Stack {
  /** The node-state table and its key. */
  public readonly stateStore: StateStore;
  /** Streams, ingest functions and their queues. */
  public readonly ingest: Ingest;
  /** The alerts topic and its Slack deliveries. */
  public readonly notifications: Notifications;
  /** The sweep and on-transition functions, the sweep schedule and their queues. */
  public readonly detector: Detector;
  /** The recovery state machines and the runbook-steps function. */
  public readonly runbooks: Runbooks;
  /** The operator API (approve, reject and the other operator actions) and its function. */
  public readonly operatorApi: OperatorApi;
  /** The probe function and its schedule, when the configuration file enables them. */
  public readonly probes?: Probes;
  /** The dashboard and the alarms on the monitor itself. */
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ReplicaSentinelStackProps = {}) {
    super(scope, id, props);

    this.stateStore = new StateStore(this, 'StateStore');
    this.ingest = new Ingest(this, 'Ingest', { table: this.stateStore.table });
    this.notifications = new Notifications(this, 'Notifications', {
      table: this.stateStore.table,
      ...(props.chatbotSlack === undefined
        ? {}
        : { slackWorkspaceId: props.chatbotSlack.workspaceId, slackChannelId: props.chatbotSlack.channelId }),
      ...(props.slackWebhookSecretArn === undefined
        ? {}
        : { slackWebhookSecretArn: props.slackWebhookSecretArn }),
      ...(props.slackWebhookSecretKeyArn === undefined
        ? {}
        : {
            slackWebhookSecretKey: Key.fromKeyArn(
              this,
              'SlackWebhookSecretKey',
              props.slackWebhookSecretKeyArn,
            ),
          }),
    });
    this.runbooks = new Runbooks(this, 'Runbooks', {
      table: this.stateStore.table,
      alertsTopic: this.notifications.topic,
      ...(props.hookFunctionArns === undefined ? {} : { hookFunctionArns: props.hookFunctionArns }),
      ...(props.hookSsmDocuments === undefined ? {} : { hookSsmDocuments: props.hookSsmDocuments }),
      ...(props.databaseSecretArn === undefined ? {} : { databaseSecretArn: props.databaseSecretArn }),
      ...(props.runbookNetwork === undefined ? {} : { network: props.runbookNetwork }),
    });
    this.operatorApi = new OperatorApi(this, 'OperatorApi', {
      table: this.stateStore.table,
      stateMachines: [this.runbooks.failover, this.runbooks.recovery, this.runbooks.switchover],
      switchover: this.runbooks.switchover,
      ...(props.slackSigningSecretArn === undefined
        ? {}
        : { slackSigningSecretArn: props.slackSigningSecretArn }),
    });
    if (props.clusterSecretArns !== undefined && props.clusterSecretArns.length > 0) {
      this.runbooks.stepsFunction.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [...props.clusterSecretArns],
        }),
      );
    }
    if (props.probes !== undefined) {
      this.probes = new Probes(this, 'Probes', {
        ...props.probes,
        table: this.stateStore.table,
        heartbeatStream: this.ingest.heartbeatStream,
      });
    }
    this.detector = new Detector(this, 'Detector', {
      table: this.stateStore.table,
      alertsTopic: this.notifications.topic,
      runbooks: { failover: this.runbooks.failover, recovery: this.runbooks.recovery },
      ...(props.sweepIntervalSeconds === undefined
        ? {}
        : { sweepIntervalSeconds: props.sweepIntervalSeconds }),
    });
    this.observability = new Observability(this, 'Observability', {
      alertsTopic: this.notifications.topic,
      alertsTopicKey: this.notifications.key,
      table: this.stateStore.table,
      streams: { Heartbeats: this.ingest.heartbeatStream, ChangeEvents: this.ingest.changeStream },
      functions: {
        IngestHeartbeat: this.ingest.heartbeatFunction.fn,
        IngestChangeStream: this.ingest.changeStreamFunction.fn,
        Sweep: this.detector.sweepFunction.fn,
        OnTransition: this.detector.onTransitionFunction.fn,
        RunbookSteps: this.runbooks.stepsFunction.fn,
        Operator: this.operatorApi.operatorFunction.fn,
        ...(this.notifications.notifySlack ? { NotifySlack: this.notifications.notifySlack.fn } : {}),
        ...(this.probes ? { Probe: this.probes.probeFunction.fn } : {}),
      },
      deadLetterQueues: {
        IngestFailures: this.ingest.failureQueue,
        DetectorFailures: this.detector.failureQueue,
        SweepDeadLetters: this.detector.sweepDeadLetterQueue,
        ...(this.notifications.deadLetterQueue
          ? { NotifySlackDeadLetters: this.notifications.deadLetterQueue }
          : {}),
      },
      watchedQueues: { Quarantine: this.ingest.quarantineQueue },
      stateMachines: {
        PrimaryFailover: this.runbooks.failover,
        ReplicaRecovery: this.runbooks.recovery,
        PrimarySwitchover: this.runbooks.switchover,
      },
    });

    new CfnOutput(this, 'TableName', {
      description: 'Node-state table (TABLE_NAME of the functions)',
      value: this.stateStore.table.tableName,
    });
    new CfnOutput(this, 'HeartbeatStreamArn', {
      description: 'Kinesis stream probes put heartbeats on (partition key = nodeId)',
      value: this.ingest.heartbeatStream.streamArn,
    });
    new CfnOutput(this, 'ChangeStreamArn', {
      description: 'Kinesis stream for change-stream positions (our envelope or Debezium)',
      value: this.ingest.changeStream.streamArn,
    });
    new CfnOutput(this, 'QuarantineQueueUrl', {
      description: 'Records that failed validation, with raw data and reason',
      value: this.ingest.quarantineQueue.queueUrl,
    });
    new CfnOutput(this, 'FailureQueueUrl', {
      description: 'On-failure destination of the Kinesis event source mappings',
      value: this.ingest.failureQueue.queueUrl,
    });
    new CfnOutput(this, 'AlertsTopicArn', {
      description: 'SNS topic of every alert (AWS Chatbot custom-notification format); subscribe to it',
      value: this.notifications.topic.topicArn,
    });
    new CfnOutput(this, 'OperatorApiUrl', {
      description:
        'Operator API (IAM auth; routes: functions/core/operator-routes.ts), e.g. POST <url>incidents/<clusterId>/<incidentId>/approve; Slack: <url>slack/actions',
      value: this.operatorApi.api.url,
    });
    new CfnOutput(this, 'FailoverStateMachineArn', {
      description: 'The primary-failover runbook',
      value: this.runbooks.failover.stateMachineArn,
    });
    new CfnOutput(this, 'RecoveryStateMachineArn', {
      description: 'The replica-recovery runbook',
      value: this.runbooks.recovery.stateMachineArn,
    });
    new CfnOutput(this, 'SwitchoverStateMachineArn', {
      description: 'The primary-switchover runbook (started by an operator)',
      value: this.runbooks.switchover.stateMachineArn,
    });
  }
}
