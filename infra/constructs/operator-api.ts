import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  type IResource,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  type RequestValidator,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { RunbookName } from '../../functions/core/incidents';
import {
  OPERATOR_ROUTES,
  type OperationName,
  type OperatorRoute,
  SLACK_ACTIONS_PATH,
} from '../../functions/core/operator-routes';
import { functionEntry } from '../paths';
import { createLogsKey } from './logs-key';
import { SentinelFunction } from './sentinel-function';

/** Props of {@link OperatorApi}. */
export interface OperatorApiProps {
  /** The node-state table (StateStore.table): cluster, node and incident items. */
  readonly table: ITableV2;
  /**
   * The table's KMS key.
   *
   * @default - `table.encryptionKey`
   */
  readonly tableKey?: IKey;
  /**
   * The runbook state machines by runbook name (Runbooks.failover, .recovery, .switchover): the API answers
   * their waiting approvals, sees / stops their executions (`unlock --force`, a manual failover taking over a
   * run) and starts them (switchover, failover, recover, and replica-recovery for a rejoin / rebuild).
   */
  readonly runbooks: Readonly<Record<RunbookName, IStateMachine>>;
  /** The alerts topic (Notifications.topic): every operator action is announced there. */
  readonly alertsTopic: ITopic;
  /**
   * The alerts topic's KMS key.
   *
   * @default - `alertsTopic.masterKey`
   */
  readonly alertsTopicKey?: IKey;
  /**
   * Slack user ids whose Approve/Reject presses are accepted on clusters without a list of their own
   * (`slackAllowedUserIds` of the cluster configuration).
   *
   * @default - none: only clusters' own lists allow anyone
   */
  readonly slackAllowedUserIds?: readonly string[];
  /**
   * Complete ARN of the Secrets Manager secret holding the Slack app's signing secret. When given, the
   * API also has the unauthenticated `POST /slack/actions` route for Slack's interactive buttons (Slack
   * cannot sign with AWS credentials; the operator function verifies Slack's request signature).
   *
   * @default - no Slack route: operators act through the IAM-authorized routes only
   */
  readonly slackSigningSecretArn?: string;
  /**
   * The Slack signing secret's customer-managed KMS key, if it has one.
   *
   * @default - none
   */
  readonly slackSigningSecretKeyArn?: string;
  /**
   * Key for the function's and the access logs' log groups; needs the CloudWatch Logs key policy of
   * `createLogsKey()`.
   *
   * @default - one new key from `createLogsKey()`
   */
  readonly logKey?: IKey;
  /**
   * Retention of the API access logs (who acted when is incident evidence).
   *
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
}

/**
 * The operator API (docs/DESIGN.md §5): a Regional REST API, stage `v1`, whose resources and methods are
 * generated from the route table of functions/core/operator-routes.ts, every one a POST with IAM
 * authorization (SigV4: who may call which operation is an IAM policy on `execute-api:Invoke` for
 * `<api>/v1/POST/<path>`, and the caller's ARN is recorded as who acted), a Lambda proxy integration of the
 * operator function. With a Slack signing secret, also `POST /slack/actions` for Slack's interactive
 * buttons (verified by the function). Access logs (JSON, KMS-encrypted, retained) and execution logs
 * (ERROR), X-Ray, request validation, stage throttling.
 *
 * The operator function reads and writes the table (GetItem, Query, PutItem, UpdateItem), publishes to the
 * alerts topic, answers the task tokens of the given state machines, starts, describes and stops their
 * executions, nothing else.
 */
export class OperatorApi extends Construct {
  /** Runs every operation (and the Slack buttons). */
  public readonly operatorFunction: SentinelFunction;
  public readonly api: RestApi;
  /** Access logs of the API. */
  public readonly accessLogs: LogGroup;
  /** The method of each operation. */
  public readonly methods: Readonly<Record<OperationName, Method>>;

  constructor(scope: Construct, id: string, props: OperatorApiProps) {
    super(scope, id);
    const logKey = props.logKey ?? createLogsKey(this, 'LogKey');
    this.operatorFunction = new SentinelFunction(this, 'Function', {
      entry: functionEntry('operator'),
      serviceName: 'operator',
      description: 'replica-sentinel: the operator API (approve, reject and the other operator actions)',
      logKey,
      // API Gateway waits at most 29 s for a Lambda integration.
      timeout: Duration.seconds(25),
    })
      .bindTable(props.table, 'RW', { key: props.tableKey })
      .bindTopic(props.alertsTopic, { key: props.alertsTopicKey })
      .bindTaskResponses(Object.values(props.runbooks))
      .bindExecutionControl(
        Object.fromEntries(
          Object.entries(props.runbooks).map(([runbook, stateMachine]) => [
            runbook,
            // Runbooks names each state machine `<stack>-<runbook>`.
            { stateMachine, name: `${Stack.of(this).stackName}-${runbook}` },
          ]),
        ),
      );
    if (props.slackAllowedUserIds !== undefined && props.slackAllowedUserIds.length > 0)
      this.operatorFunction.fn.addEnvironment('SLACK_ALLOWED_USER_IDS', props.slackAllowedUserIds.join(','));
    // Switchovers, manual failovers, `recover` (which re-runs any runbook) and rejoin / rebuild (replica-recovery)
    // start executions.
    this.operatorFunction.bindStateMachines({
      SWITCHOVER_STATE_MACHINE_ARN: props.runbooks['primary-switchover'],
      FAILOVER_STATE_MACHINE_ARN: props.runbooks['primary-failover'],
      RECOVERY_STATE_MACHINE_ARN: props.runbooks['replica-recovery'],
    });
    if (props.slackSigningSecretArn !== undefined) {
      this.operatorFunction.bindSecret(
        'SLACK_SIGNING_SECRET_ARN',
        Secret.fromSecretAttributes(this, 'SlackSigningSecret', {
          secretCompleteArn: props.slackSigningSecretArn,
          ...(props.slackSigningSecretKeyArn === undefined
            ? {}
            : {
                encryptionKey: Key.fromKeyArn(this, 'SlackSigningSecretKey', props.slackSigningSecretKeyArn),
              }),
        }),
        'the Slack signing secret',
      );
    }
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      encryptionKey: logKey,
      retention: props.logRetention ?? RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const stack = Stack.of(this);
    this.api = new RestApi(this, 'Api', {
      restApiName: `${stack.stackName}-operator`,
      description: 'replica-sentinel: the operator API (approve, reject and the other operator actions)',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // API Gateway writes access and execution logs with the account's CloudWatch role (one per account
      // and region): CDK creates it and registers it (AWS::ApiGateway::Account), retained on deletion.
      cloudWatchRole: true,
      defaultMethodOptions: { authorizationType: AuthorizationType.IAM },
      deployOptions: {
        stageName: 'v1',
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: MethodLoggingLevel.ERROR,
        // Request and response bodies carry Slack payloads and reasons: not in the logs.
        dataTraceEnabled: false,
        tracingEnabled: true,
        metricsEnabled: true,
        // A few humans act; anything faster is not them.
        throttlingRateLimit: 10,
        throttlingBurstLimit: 20,
      },
    });
    const validator = this.api.addRequestValidator('Validator', {
      validateRequestParameters: true,
      validateRequestBody: true,
    });
    const integration = new LambdaIntegration(this.operatorFunction.fn, {
      proxy: true,
      allowTestInvoke: false,
    });

    const methods: Partial<Record<OperationName, Method>> = {};
    for (const [operation, route] of Object.entries(OPERATOR_ROUTES) as [OperationName, OperatorRoute][]) {
      methods[operation] = this.operationMethod(route, integration, validator);
    }
    this.methods = methods as Record<OperationName, Method>;

    if (props.slackSigningSecretArn !== undefined) this.slackRoute(integration, validator);

    Validations.of(this.api.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason:
        'No WAF web ACL: the operator routes only accept SigV4-signed requests of IAM principals allowed execute-api:Invoke, ' +
        'the Slack route is verified against the Slack signing secret by the function, and the stage is throttled ' +
        '(10 requests/s, burst 20). A web ACL would add cost and nothing these checks do not already reject.',
    });
    // The CloudWatch role CDK makes for API Gateway logging.
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole !== undefined) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          "API Gateway's account-level CloudWatch Logs role (AWS::ApiGateway::Account, one per account and region, used by " +
          'every REST API there for access and execution logs). It keeps the AWS managed AmazonAPIGatewayPushToCloudWatchLogs ' +
          'policy on purpose: a policy narrowed to this stack would break the logging of the other APIs of the account.',
      });
    }
  }

  /** The resource of a path (`/a/{b}/c`), made on first use and shared by the routes under it. */
  private resource(path: string): IResource {
    let resource: IResource = this.api.root;
    for (const part of path.split('/').filter((s) => s !== '')) {
      resource = resource.getResource(part) ?? resource.addResource(part);
    }
    return resource;
  }

  private operationMethod(
    route: OperatorRoute,
    integration: LambdaIntegration,
    validator: RequestValidator,
  ): Method {
    const params = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
    const method = this.resource(route.path).addMethod(route.method, integration, {
      authorizationType: AuthorizationType.IAM,
      requestValidator: validator,
      requestParameters: Object.fromEntries(params.map((name) => [`method.request.path.${name}`, true])),
    });
    Validations.of(method).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'Operators call this method with AWS credentials: it uses IAM authorization (SigV4, AuthorizationType AWS_IAM), ' +
        'so who may do what is decided by IAM policies on execute-api:Invoke, not by a Cognito user pool.',
    });
    return method;
  }

  private slackRoute(integration: LambdaIntegration, validator: RequestValidator): void {
    const method = this.resource(SLACK_ACTIONS_PATH).addMethod('POST', integration, {
      authorizationType: AuthorizationType.NONE,
      requestValidator: validator,
    });
    Validations.of(method).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        "Slack's interactive-message callbacks cannot sign requests with AWS credentials, so this route has no API Gateway " +
        'authorizer: the operator function verifies the X-Slack-Signature (HMAC-SHA256 of the body with the signing secret ' +
        'from Secrets Manager) and the timestamp before acting, and rejects everything else.',
    });
    Validations.of(method).acknowledge({
      id: 'AwsSolutions-COG4',
      reason:
        'Slack calls this route, not a Cognito user: requests are authenticated by the Slack request signature, ' +
        'verified by the operator function with the signing secret from Secrets Manager.',
    });
  }
}
