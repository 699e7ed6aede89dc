/**
 * The house Lambda function, `SentinelFunction` (docs/CONVENTIONS.md): the function, its role and its log group,
 * and the `bind…` methods through which it gets every other permission. What each `bind…` grants is in
 * infra/constructs/function-bindings/ (one file per kind of resource).
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import {
  type IGrantable,
  type IPrincipal,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  Runtime,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { BUNDLE_HANDLER, functionCode } from '../bundling';
import {
  bindAutomationDocuments,
  bindAutomationRoles,
  bindInvokeFunctions,
} from './function-bindings/hook-targets';
import { bindQuarantine, bindTopic } from './function-bindings/messaging';
import {
  bindSecret,
  bindSecretsNamed,
  bindSecretValues,
  type SecretGrant,
} from './function-bindings/secrets';
import {
  bindExecutionControl,
  bindStateMachines,
  bindTaskResponses,
  type ExecutionControlTargets,
} from './function-bindings/step-functions';
import {
  bindIdempotencyRecords,
  bindTable,
  type TableAccess,
  type TableBindingOptions,
} from './function-bindings/table';
import { createLogsKey } from './logs-key';
import { VPC_ENI_ACTIONS, type VpcPlacement } from './vpc-placement';

/** Application log level, shared by Powertools (`POWERTOOLS_LOG_LEVEL`) and Lambda's log filter. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Props of {@link SentinelFunction}. */
export interface SentinelFunctionProps {
  /** Absolute path of the entry file; it exports `handler` (see `functionEntry()` in infra/paths.ts). */
  readonly entry: string;
  /**
   * Powertools service name (`POWERTOOLS_SERVICE_NAME`): the `service` key of every log line and trace.
   *
   * @default - the construct id
   */
  readonly serviceName?: string;
  /**
   * Description shown in the Lambda console.
   *
   * @default - no description
   */
  readonly description?: string;
  /**
   * Memory in MiB (CPU scales with it).
   *
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Function timeout.
   *
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Retention of the function's log group.
   *
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * KMS key that encrypts the function's log group. Its key policy must let CloudWatch Logs use it:
   * create it with {@link createLogsKey} (several functions may share one).
   *
   * @default - a new key (rotation on) made with {@link createLogsKey}, for this function only
   */
  readonly logKey?: IKey;
  /**
   * Application log level (`POWERTOOLS_LOG_LEVEL` and Lambda's application log filter).
   *
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * Extra environment variables. `TABLE_NAME`, `QUARANTINE_QUEUE_URL`, `ALERTS_TOPIC_ARN` and
   * `SLACK_WEBHOOK_SECRET_ARN` are set by the `bind*` methods, not here.
   *
   * @default - none beyond NODE_OPTIONS and the POWERTOOLS_* variables this construct sets
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Reserved concurrency.
   *
   * @default - unreserved (the account's pool)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Run the function in these subnets of a VPC (to reach private endpoints, e.g. database servers). The
   * role gets the network-interface actions Lambda needs ({@link VPC_ENI_ACTIONS}, on `"*"`), named
   * inline: no AWSLambdaVPCAccessExecutionRole managed policy.
   *
   * @default - not in a VPC
   */
  readonly vpc?: VpcPlacement;
}

/**
 * The house Lambda function (docs/CONVENTIONS.md): a `NodejsFunction` on Node.js 24 / arm64 with X-Ray
 * tracing, an ESM bundle with source maps and the locked AWS SDK inside, split so that what the code imports
 * on demand is read on demand (infra/bundling.ts), a dedicated KMS-encrypted log
 * group with retention, and its own role that holds no AWS managed policy: it may write to its own log
 * group and to X-Ray, and gets everything else through the `bind*` methods (least privilege).
 *
 * @example
 * const fn = new SentinelFunction(this, 'IngestHeartbeat', { entry: functionEntry('ingest-heartbeat') })
 *   .bindTable(stateStore.table, 'RW')
 *   .bindQuarantine(quarantineQueue);
 * fn.fn.addEventSource(new KinesisEventSource(stream, { startingPosition: StartingPosition.TRIM_HORIZON }));
 */
export class SentinelFunction extends Construct implements IGrantable {
  /** The Lambda function. */
  public readonly fn: NodejsFunction;
  /** The execution role (no managed policies). */
  public readonly role: Role;
  /** The function's log group. */
  public readonly logGroup: LogGroup;
  /** The key that encrypts {@link logGroup}. */
  public readonly logKey: IKey;

  constructor(scope: Construct, id: string, props: SentinelFunctionProps) {
    super(scope, id);
    const logLevel = props.logLevel ?? 'INFO';

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `replica-sentinel ${props.serviceName ?? id}: execution role`,
    });
    this.logKey = props.logKey ?? createLogsKey(this, 'LogKey');
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      encryptionKey: this.logKey,
    });
    // In place of AWSLambdaBasicExecutionRole (logs:* on every log group): its own log group only.
    this.logGroup.grantWrite(this.role);

    if (
      props.vpc !== undefined &&
      (props.vpc.subnets.length === 0 || props.vpc.securityGroups.length === 0)
    ) {
      throw new Error(
        `${this.node.path}: a function in a VPC needs at least one subnet and one security group`,
      );
    }

    this.fn = new NodejsFunction(this, 'Function', {
      handler: BUNDLE_HANDLER,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(60),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel[logLevel],
      systemLogLevelV2: SystemLogLevel.INFO,
      description: props.description,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      ...(props.vpc === undefined
        ? {}
        : {
            vpc: props.vpc.vpc,
            vpcSubnets: { subnets: [...props.vpc.subnets] },
            securityGroups: [...props.vpc.securityGroups],
          }),
      environment: {
        ...props.environment,
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? id,
        POWERTOOLS_LOG_LEVEL: logLevel,
      },
      // esbuild with code splitting (infra/bundling.ts): NodejsFunction's own bundling writes one file.
      code: functionCode(props.entry),
    });

    if (props.vpc !== undefined) {
      // With a role of our own, CDK leaves the network-interface permissions to us.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({ actions: [...VPC_ENI_ACTIONS], resources: ['*'] }),
      );
    }

    // Tracing.ACTIVE makes CDK add xray:PutTraceSegments / xray:PutTelemetryRecords on "*" to the
    // role's default policy; the test suite checks that no other action is allowed on "*".
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        props.vpc === undefined
          ? 'Only the X-Ray write actions added by Tracing.ACTIVE (xray:PutTraceSegments, xray:PutTelemetryRecords) use "*": ' +
            'X-Ray does not support resource-level permissions for them. Everything else in this role names its resources.'
          : 'Only the X-Ray write actions added by Tracing.ACTIVE (xray:PutTraceSegments, xray:PutTelemetryRecords) and the ' +
            'network-interface actions Lambda performs for a function in a VPC (ec2:CreateNetworkInterface, DescribeNetworkInterfaces, ' +
            'DescribeSubnets, DeleteNetworkInterface, AssignPrivateIpAddresses, UnassignPrivateIpAddresses) use "*": X-Ray and the ' +
            'EC2 Describe actions have no resource-level permissions, and the interfaces are created by Lambda at run time. ' +
            'Everything else in this role names its resources.',
    });
  }

  /** The role: grant to a SentinelFunction as to any principal. */
  public get grantPrincipal(): IPrincipal {
    return this.role;
  }

  /**
   * Sets `TABLE_NAME` and grants exactly the DynamoDB and KMS actions of `access` on the table, and
   * `dynamodb:Query` on the named indexes only (no `index/*`, and no write action on an index).
   *
   * @param table the node-state table
   * @param access 'R' (GetItem, BatchGetItem, Query) or 'RW' (plus PutItem, UpdateItem)
   * @param options.indexes GSI names the function queries (Query only, whatever `access` is)
   * @param options.key the table's KMS key, when `table.encryptionKey` is not set (imported tables)
   * @param options.conditionChecks also `dynamodb:ConditionCheckItem` (TransactWriteItems with
   *   ConditionCheck items); 'RW' only
   */
  public bindTable(table: ITableV2, access: TableAccess, options: TableBindingOptions = {}): this {
    bindTable(this, table, access, options);
    return this;
  }

  /**
   * Sets `TABLE_NAME` for a function that keeps Powertools idempotency records in the node-state table
   * (functions/adapters/once.ts) and lets it get, put, update and delete exactly those items: the
   * `dynamodb:LeadingKeys` condition limits every call to the partition `IDEMPOTENCY#<scope>`, so the
   * function can neither read nor change node, cluster or incident items. Plus the table key's 'RW'
   * KMS actions.
   *
   * @param table the node-state table
   * @param scope the scope passed to `onceInTable()` (its records live under `IDEMPOTENCY#<scope>`)
   * @param options.key the table's KMS key, when `table.encryptionKey` is not set (imported tables)
   */
  public bindIdempotencyRecords(table: ITableV2, scope: string, options: { readonly key?: IKey } = {}): this {
    bindIdempotencyRecords(this, table, scope, options);
    return this;
  }

  /**
   * Sets `ALERTS_TOPIC_ARN` (the one alerts topic, docs/DESIGN.md §6) and lets the function publish to that
   * topic only, with the publisher actions on the topic's KMS key. Not `topic.grantPublish()`: on an
   * encrypted topic it grants `kms:GenerateDataKey*` (a wildcard action, cdk-nag IAM5).
   *
   * @param options.key the topic's KMS key, when `topic.masterKey` is not set (imported topics)
   */
  public bindTopic(topic: ITopic, options: { readonly key?: IKey } = {}): this {
    bindTopic(this, topic, options);
    return this;
  }

  /**
   * Sets `SLACK_WEBHOOK_SECRET_ARN` and lets the function read that one secret's value: see
   * {@link bindSecret}.
   *
   * @param secret imported with its complete ARN (`Secret.fromSecretAttributes({ secretCompleteArn })`)
   */
  public bindSlackWebhookSecret(secret: ISecret): this {
    return this.bindSecret('SLACK_WEBHOOK_SECRET_ARN', secret, 'the Slack webhook secret');
  }

  /**
   * Sets the environment variable `variable` to the secret's complete ARN and lets the function read that
   * one secret's value (`secretsmanager:GetSecretValue` on its complete ARN; not `grantRead()`, which adds
   * DescribeSecret and, for a partial ARN, a `-??????` wildcard). When the secret is encrypted with a
   * customer-managed key, also `kms:Decrypt` on that key, only through Secrets Manager in this region.
   *
   * @param variable e.g. `SLACK_SIGNING_SECRET_ARN`
   * @param secret imported with its complete ARN (`Secret.fromSecretAttributes({ secretCompleteArn })`)
   * @param description what the secret is, for the error when its complete ARN is unknown
   */
  public bindSecret(variable: string, secret: ISecret, description = `the secret of ${variable}`): this {
    bindSecret(this, variable, secret, description);
    return this;
  }

  /**
   * Lets the function read exactly these secrets (`secretsmanager:GetSecretValue` on their complete ARNs)
   * and, for those under a customer-managed key, `kms:Decrypt` on that key only through Secrets Manager
   * in this region.
   */
  public bindSecretValues(secrets: readonly SecretGrant[]): this {
    bindSecretValues(this, secrets);
    return this;
  }

  /**
   * Lets the function read the secrets of this account and region whose name starts with `prefix`
   * (secrets not known at synth, such as those of clusters applied with `watch --stack`), and decrypt
   * with `keyArns` through Secrets Manager.
   */
  public bindSecretsNamed(prefix: string, keyArns: readonly string[] = []): this {
    bindSecretsNamed(this, prefix, keyArns);
    return this;
  }

  /**
   * Sets one environment variable per state machine to its ARN and lets the function start executions
   * of exactly those state machines (`states:StartExecution` on their ARNs; no other states action).
   *
   * @example
   * onTransition.bindStateMachines({ FAILOVER_STATE_MACHINE_ARN: runbooks.failover });
   */
  public bindStateMachines(stateMachines: Readonly<Record<string, IStateMachine>>): this {
    bindStateMachines(this, stateMachines);
    return this;
  }

  /**
   * Lets the function answer the task tokens of these state machines' callback tasks
   * (`states:SendTaskSuccess` and `states:SendTaskFailure`; no heartbeat). The Service Authorization
   * Reference lists no resource type for these actions, but IAM evaluates them against the ARN of the
   * state machine the token belongs to (an AccessDenied names it, and CDK's `grantTaskResponse()` grants
   * on it): naming the state machines keeps the function from answering tokens of any other workflow.
   */
  public bindTaskResponses(stateMachines: readonly IStateMachine[]): this {
    bindTaskResponses(this, stateMachines);
    return this;
  }

  /**
   * Sets `RUNBOOK_STATE_MACHINE_ARNS` (JSON: runbook name → state machine ARN) and lets the function see and
   * stop the executions of exactly these state machines (`states:DescribeExecution`, `states:StopExecution`
   * on `execution:<state machine name>:*`: execution names are incident ids, made at run time, so the
   * grant names each state machine and leaves the execution open; cdk-nag IAM5 is acknowledged for these).
   * `name`: the state machine's name as a plain string (an ARN built from the name token could not be
   * acknowledged).
   */
  public bindExecutionControl(stateMachines: ExecutionControlTargets): this {
    bindExecutionControl(this, stateMachines);
    return this;
  }

  /**
   * Lets the function invoke exactly these Lambda functions (`lambda:InvokeFunction` on each ARN as
   * given: an unqualified ARN allows the unqualified function only, a qualified one that version or alias).
   */
  public bindInvokeFunctions(functionArns: readonly string[]): this {
    bindInvokeFunctions(this, functionArns);
    return this;
  }

  /**
   * Lets the function start SSM Automation executions of exactly these documents, in this region, at
   * their default version: `ssm:StartAutomationExecution` on `document/<name>` and
   * `automation-definition/<name>:$DEFAULT` (the two resources the action is authorized against). A
   * document of this account, or an AWS-owned one (names starting with AWS, Amazon or AMZN, reserved for
   * AWS; their ARNs have no account).
   */
  public bindAutomationDocuments(documentNames: readonly string[]): this {
    bindAutomationDocuments(this, documentNames);
    return this;
  }

  /**
   * Lets the function hand exactly these IAM roles to SSM Automation (`iam:PassRole`, only to
   * `ssm.amazonaws.com`): the `AutomationAssumeRole` of the SSM hooks, the role an automation runs as.
   */
  public bindAutomationRoles(roleArns: readonly string[]): this {
    bindAutomationRoles(this, roleArns);
    return this;
  }

  /**
   * Sets `QUARANTINE_QUEUE_URL` and lets the function send (SendMessage, SendMessageBatch) to that
   * queue only, with the producer actions on the queue's KMS key.
   */
  public bindQuarantine(queue: IQueue): this {
    bindQuarantine(this, queue);
    return this;
  }
}
