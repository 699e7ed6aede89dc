import { CfnOutput, RemovalPolicies, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { Detector } from './constructs/detector';
import type { SecretGrant } from './constructs/function-bindings/secrets';
import { Ingest, type StreamCapacity } from './constructs/ingest';
import { Notifications } from './constructs/notifications';
import { Observability } from './constructs/observability';
import { OperatorApi } from './constructs/operator-api';
import { Probes } from './constructs/probes';
import { Runbooks } from './constructs/runbooks';
import { StateStore, type TableCapacity } from './constructs/state-store';
import { VpcEndpoints } from './constructs/vpc-endpoints';
import type { NetworkIds } from './constructs/vpc-placement';

/** The stack's network (one section for the probe and runbook-steps), with the optional VPC endpoints. */
export interface StackNetwork extends NetworkIds {
  /** Create the VPC endpoints (VpcEndpoints); needs `routeTableIds`. @default false */
  readonly vpcEndpoints?: boolean;
  /** Route tables of the subnets, for the DynamoDB gateway endpoint. */
  readonly routeTableIds?: readonly string[];
}

/** Props of {@link ReplicaSentinelStack}: what `cdk deploy -c ...` configures (infra/build-app.ts). */
export interface ReplicaSentinelStackProps extends StackProps {
  /**
   * Deploy the change-events stream and ingest-change-stream (Ingest.changeStreams).
   *
   * @default false
   */
  readonly changeStreams?: boolean;
  /**
   * Capacity of the Kinesis streams (Ingest.streamCapacity).
   *
   * @default { shards: 1 }
   */
  readonly streamCapacity?: StreamCapacity;
  /**
   * Billing of the node-state table (StateStore.capacity).
   *
   * @default 'on-demand'
   */
  readonly tableCapacity?: TableCapacity;
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
   * ARNs of the IAM roles SSM hooks run as (`assumeRoleArn`): runbook-steps may pass exactly these to SSM.
   *
   * @default - none
   */
  readonly hookSsmRoleArns?: readonly string[];
  /**
   * Complete ARN of the Secrets Manager secret with the database credentials of the built-in hooks.
   *
   * @default - none
   */
  readonly databaseSecretArn?: string;
  /**
   * The network of everything that reaches the databases: the probe function and runbook-steps run in
   * these subnets with these security groups; `vpcEndpoints` adds the VPC endpoints they need.
   *
   * @default - not in a VPC
   */
  readonly network?: StackNetwork;
  /**
   * Complete ARN of the Secrets Manager secret holding the Slack app's signing secret: adds the
   * `POST /slack/actions` route to the operator API.
   *
   * @default - no Slack route
   */
  readonly slackSigningSecretArn?: string;
  /**
   * Slack user ids allowed to press Approve/Reject (clusters may name their own in the configuration).
   *
   * @default - none
   */
  readonly slackAllowedUserIds?: readonly string[];
  /**
   * The probe function (from the configuration file's enabled `probe` section, infra/config-file.ts).
   *
   * @default - no probe function
   */
  readonly probes?: {
    readonly configText: string;
    readonly clusterIds: readonly string[];
    readonly heartbeatIntervalsSeconds: readonly number[];
    readonly secrets: readonly SecretGrant[];
  };
  /**
   * The per-cluster secrets of the configuration file (clusters' `credentialsSecretArn`, https hooks'
   * `secretArn`, with their KMS keys) that runbook-steps may read.
   *
   * @default - none
   */
  readonly clusterSecrets?: readonly SecretGrant[];
  /**
   * Secrets whose name starts with this prefix (in this account and region) are readable by runbook-steps:
   * the secrets of clusters applied with `watch --stack`, unknown at synth.
   *
   * @default - none
   */
  readonly clusterSecretNamePrefix?: string;
  /**
   * Customer-managed KMS keys of the secrets under {@link clusterSecretNamePrefix}: runbook-steps may decrypt
   * with them through Secrets Manager.
   *
   * @default - none
   */
  readonly clusterSecretKeyArns?: readonly string[];
  /**
   * KMS key of the database secret, if it has one.
   *
   * @default - none
   */
  readonly databaseSecretKeyArn?: string;
  /**
   * KMS key of the Slack signing secret, if it has one.
   *
   * @default - none
   */
  readonly slackSigningSecretKeyArn?: string;
  /**
   * What happens to the stateful resources (the table and its key, the other KMS keys, the log groups
   * that hold incident evidence) when the stack is deleted. RETAIN keeps them (the table also keeps its
   * deletion protection); DESTROY removes everything with `cdk destroy`, for test stacks. The Kinesis
   * streams are deleted with the stack either way (they hold records in transit only).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
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
  /** The sweep and on-transition functions, the sweep schedule and state machine, and their queues. */
  public readonly detector: Detector;
  /** The recovery state machines and the runbook-steps function. */
  public readonly runbooks: Runbooks;
  /** The operator API (approve, reject and the other operator actions) and its function. */
  public readonly operatorApi: OperatorApi;
  /** The probe function and its schedule, when the configuration file enables them. */
  public readonly probes?: Probes;
  /** The VPC endpoints of the network, when `network.vpcEndpoints` asks for them. */
  public readonly vpcEndpoints?: VpcEndpoints;
  /** The dashboard and the alarms on the monitor itself. */
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: ReplicaSentinelStackProps = {}) {
    super(scope, id, props);

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const network: NetworkIds | undefined =
      props.network === undefined
        ? undefined
        : {
            vpcId: props.network.vpcId,
            subnetIds: props.network.subnetIds,
            securityGroupIds: props.network.securityGroupIds,
          };
    if (network !== undefined && props.network?.vpcEndpoints) {
      if (props.network.routeTableIds === undefined || props.network.routeTableIds.length === 0) {
        throw new Error('network.vpcEndpoints needs routeTableIds (for the DynamoDB gateway endpoint)');
      }
      this.vpcEndpoints = new VpcEndpoints(this, 'VpcEndpoints', {
        network,
        routeTableIds: props.network.routeTableIds,
      });
    }
    this.stateStore = new StateStore(this, 'StateStore', {
      removalPolicy,
      capacity: props.tableCapacity,
    });
    this.ingest = new Ingest(this, 'Ingest', {
      table: this.stateStore.table,
      changeStreams: props.changeStreams,
      streamCapacity: props.streamCapacity,
    });
    this.notifications = new Notifications(this, 'Notifications', {
      table: this.stateStore.table,
      ...(props.chatbotSlack === undefined
        ? {}
        : { slackWorkspaceId: props.chatbotSlack.workspaceId, slackChannelId: props.chatbotSlack.channelId }),
      slackWebhookSecretArn: props.slackWebhookSecretArn,
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
      hookFunctionArns: props.hookFunctionArns,
      hookSsmDocuments: props.hookSsmDocuments,
      hookSsmRoleArns: props.hookSsmRoleArns,
      databaseSecretArn: props.databaseSecretArn,
      databaseSecretKeyArn: props.databaseSecretKeyArn,
      network,
    });
    this.operatorApi = new OperatorApi(this, 'OperatorApi', {
      table: this.stateStore.table,
      runbooks: {
        'primary-failover': this.runbooks.failover,
        'replica-recovery': this.runbooks.recovery,
        'primary-switchover': this.runbooks.switchover,
      },
      alertsTopic: this.notifications.topic,
      slackAllowedUserIds: props.slackAllowedUserIds,
      slackSigningSecretKeyArn: props.slackSigningSecretKeyArn,
      slackSigningSecretArn: props.slackSigningSecretArn,
    });
    this.runbooks.stepsFunction.bindSecretValues(props.clusterSecrets ?? []);
    if (props.clusterSecretNamePrefix !== undefined) {
      this.runbooks.stepsFunction.bindSecretsNamed(
        props.clusterSecretNamePrefix,
        props.clusterSecretKeyArns ?? [],
      );
      new CfnOutput(this, 'ClusterSecretNamePrefix', {
        description:
          'runbook-steps may read the secrets whose name starts with this (watch --stack checks it)',
        value: props.clusterSecretNamePrefix,
      });
    }
    if (props.probes !== undefined) {
      this.probes = new Probes(this, 'Probes', {
        ...props.probes,
        network,
        table: this.stateStore.table,
        heartbeatStream: this.ingest.heartbeatStream,
      });
    }
    this.detector = new Detector(this, 'Detector', {
      table: this.stateStore.table,
      alertsTopic: this.notifications.topic,
      runbooks: { failover: this.runbooks.failover, recovery: this.runbooks.recovery },
      sweepIntervalSeconds: props.sweepIntervalSeconds,
    });
    this.observability = new Observability(this, 'Observability', {
      alertsTopic: this.notifications.topic,
      alertsTopicKey: this.notifications.key,
      table: this.stateStore.table,
      streams: {
        Heartbeats: this.ingest.heartbeatStream,
        ...(this.ingest.changeStream ? { ChangeEvents: this.ingest.changeStream } : {}),
      },
      functions: {
        IngestHeartbeat: this.ingest.heartbeatFunction.fn,
        ...(this.ingest.changeStreamFunction
          ? { IngestChangeStream: this.ingest.changeStreamFunction.fn }
          : {}),
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
      sweepStateMachine: this.detector.sweepStateMachine,
    });

    if (removalPolicy === RemovalPolicy.DESTROY) RemovalPolicies.of(this).destroy();

    new CfnOutput(this, 'TableName', {
      description: 'Node-state table (TABLE_NAME of the functions)',
      value: this.stateStore.table.tableName,
    });
    new CfnOutput(this, 'HeartbeatStreamArn', {
      description: 'Kinesis stream probes put heartbeats on (partition key = nodeId)',
      value: this.ingest.heartbeatStream.streamArn,
    });
    if (this.ingest.changeStream !== undefined) {
      new CfnOutput(this, 'ChangeStreamArn', {
        description: 'Kinesis stream for change-stream positions (our envelope or Debezium)',
        value: this.ingest.changeStream.streamArn,
      });
    }
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
