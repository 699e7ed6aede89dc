import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, Code, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { keys } from '../../functions/adapters/table-definition';
import { probeIntervalProblem, probeRoundSeconds } from '../../functions/core/probe-cadence';
import { functionEntry } from '../paths';
import type { SecretGrant } from './function-bindings/secrets';
import { SentinelFunction } from './sentinel-function';
import { importVpcPlacement, type NetworkIds } from './vpc-placement';

/** Where the configuration file is inside the function (a layer is extracted under /opt). */
export const PROBE_CONFIG_PATH = '/opt/replica-sentinel/clusters.yaml';

/** The probe function's network: the user's VPC, subnets that reach the databases, security groups. */
export type ProbeNetwork = NetworkIds;

/** Props of {@link Probes}. */
export interface ProbesProps {
  /** The node-state table: the function writes the configured clusters' META items. */
  readonly table: ITableV2;
  /**
   * The table's KMS key.
   *
   * @default - `table.encryptionKey`
   */
  readonly tableKey?: IKey;
  /** The heartbeats stream (Ingest.heartbeatStream) the function puts heartbeats on. */
  readonly heartbeatStream: IStream;
  /**
   * The stream's KMS key.
   *
   * @default - `heartbeatStream.encryptionKey`
   */
  readonly heartbeatStreamKey?: IKey;
  /**
   * The configuration file's text, as given to `cdk deploy -c config=…` (already validated): shipped to
   * the function as is, so that its own validation at cold start names the same lines.
   */
  readonly configText: string;
  /** The ids of every cluster in the file: the function may update exactly their items. */
  readonly clusterIds: readonly string[];
  /**
   * The probed clusters' `heartbeatIntervalSeconds` (one cadence knob): the function probes each cluster
   * every its own interval, each a whole divisor of 60 or a whole number of minutes up to 3600.
   */
  readonly heartbeatIntervalsSeconds: readonly number[];
  /**
   * The secrets with the probes' database logins (complete ARNs, and their KMS keys where they have one):
   * the function may read exactly these.
   */
  readonly secrets: readonly SecretGrant[];
  /**
   * Run the function in these subnets of the user's VPC.
   *
   * @default - not in a VPC (the databases must then have endpoints reachable from Lambda's network)
   */
  readonly network?: ProbeNetwork;
  /**
   * Key for the function's log group; needs the CloudWatch Logs key policy of `createLogsKey()`.
   *
   * @default - a new key from `createLogsKey()`
   */
  readonly logKey?: IKey;
  /**
   * Retention of the function's log group.
   *
   * @default RetentionDays.ONE_MONTH (SentinelFunction's default)
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The probe function (issue 5, item 3): on a schedule, from inside the user's VPC, it probes every node of
 * the configured clusters (functions/adapters/probes) and puts the heartbeats on the heartbeats stream.
 *
 * - Configuration: the file given at synth travels in a Lambda layer (`/opt/replica-sentinel/clusters.yaml`):
 *   no size limit (environment variables hold 4 KB in all), no runtime call or extra permission (unlike an
 *   SSM parameter), and a changed file publishes a new layer version, so the function's new containers read
 *   it and apply it to the table at their first invocation (`applyClusterConfig`).
 * - Schedule: an EventBridge rule every minute (the finest rate); each invocation runs a round every
 *   `roundSeconds` for the minute (the greatest common divisor of the clusters' `heartbeatIntervalSeconds`
 *   and 60), each round probing the clusters due at it (timeout 90 s). A failed
 *   invocation is not retried, the next one comes within a minute; its error is in the logs and the
 *   function's Errors metric.
 * - Permissions, nothing else: `kinesis:PutRecords` on the heartbeats stream and `kms:GenerateDataKey` on
 *   its key; `secretsmanager:GetSecretValue` on exactly the configured secrets (and `kms:Decrypt` through
 *   Secrets Manager on their keys); `dynamodb:UpdateItem` on the
 *   items of the configured clusters only (`dynamodb:LeadingKeys`), with the table key's write actions.
 */
export class Probes extends Construct {
  /** The probe function. */
  public readonly probeFunction: SentinelFunction;
  /** The layer holding the configuration file. */
  public readonly configLayer: LayerVersion;
  /** The schedule that invokes {@link probeFunction}. */
  public readonly rule: Rule;
  /** Seconds between two probe rounds inside an invocation (the function derives the same from the file). */
  public readonly roundSeconds: number;

  constructor(scope: Construct, id: string, props: ProbesProps) {
    super(scope, id);
    const intervals = [...new Set(props.heartbeatIntervalsSeconds)].sort((a, b) => a - b);
    if (intervals.length === 0) throw new Error(`${this.node.path}: heartbeatIntervalsSeconds is empty`);
    for (const interval of intervals) {
      const problem = probeIntervalProblem(interval);
      if (problem !== undefined) throw new Error(`${this.node.path}: ${problem}`);
    }
    /** Seconds between two rounds of an invocation. */
    this.roundSeconds = probeRoundSeconds(intervals);
    if (props.secrets.some(({ arn }) => !/^arn:aws[a-z-]*:secretsmanager:.*-[A-Za-z0-9]{6}$/.test(arn))) {
      throw new Error(
        `${this.node.path}: secrets must be complete secret ARNs (with the 6-character suffix)`,
      );
    }

    this.configLayer = new LayerVersion(this, 'Config', {
      description: 'replica-sentinel: the cluster configuration file given to cdk deploy -c config=…',
      code: Code.fromAsset(configDirectory(props.configText)),
      compatibleRuntimes: [Runtime.NODEJS_24_X],
      compatibleArchitectures: [Architecture.ARM_64],
    });

    this.probeFunction = new SentinelFunction(this, 'Probe', {
      entry: functionEntry('probe'),
      serviceName: 'probe',
      description:
        'replica-sentinel: probes the configured database nodes and puts their heartbeats on the stream',
      timeout: Duration.seconds(90),
      environment: {
        CLUSTER_CONFIG_FILE: PROBE_CONFIG_PATH,
        HEARTBEAT_STREAM_ARN: props.heartbeatStream.streamArn,
        TABLE_NAME: props.table.tableName,
      },
      logKey: props.logKey,
      logRetention: props.logRetention,
      ...(props.network === undefined
        ? {}
        : { vpc: importVpcPlacement(this, props.network, 'the probe function') }),
    });
    const fn = this.probeFunction;
    fn.fn.addLayers(this.configLayer);

    // Heartbeats: PutRecords only (not stream.grantWrite(): PutRecord, ListShards and kms wildcards).
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['kinesis:PutRecords'], resources: [props.heartbeatStream.streamArn] }),
    );
    // A producer of a KMS-encrypted stream needs GenerateDataKey on its key (Kinesis developer guide).
    (props.heartbeatStreamKey ?? props.heartbeatStream.encryptionKey)?.grant(fn.role, 'kms:GenerateDataKey');

    // The configuration's META items: UpdateItem (applyClusterConfig), in the clusters' partitions only.
    fn.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': props.clusterIds.map(keys.clusterPk) },
        },
      }),
    );
    (props.tableKey ?? props.table.encryptionKey)?.grant(
      fn.role,
      'kms:Decrypt',
      'kms:DescribeKey',
      'kms:Encrypt',
      'kms:GenerateDataKey',
    );

    fn.bindSecretValues(props.secrets);

    // A retry would overlap the next invocation, which comes within a minute.
    fn.fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });
    const description =
      `replica-sentinel: invokes the probe function every minute (rounds every ${this.roundSeconds} s; ` +
      `clusters probed every ${intervals.join(', ')} s, their heartbeatIntervalSeconds)`;
    this.rule = new Rule(this, 'Schedule', {
      description: description.slice(0, 512), // the longest description a rule takes
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(fn.fn, { retryAttempts: 2, maxEventAge: Duration.minutes(1) })],
    });
  }
}

/**
 * A directory holding `replica-sentinel/clusters.yaml` with the text: the layer's content. Named by the
 * text's hash, so that synthesizing the same file again reuses it instead of adding a directory.
 */
function configDirectory(text: string): string {
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const directory = join(tmpdir(), `replica-sentinel-config-${hash}`);
  mkdirSync(join(directory, 'replica-sentinel'), { recursive: true });
  writeFileSync(join(directory, 'replica-sentinel', 'clusters.yaml'), text);
  return directory;
}
