import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { type ITableV2, Operation } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../functions/adapters/metric-names';

/** Props of {@link Observability}. Every map is keyed by a short name used in alarm and widget titles. */
export interface ObservabilityProps {
  /** Every alarm publishes ALARM and OK to this topic. */
  readonly alertsTopic: ITopic;
  /**
   * The topic's KMS key: CloudWatch alarms need `kms:GenerateDataKey*` and `kms:Decrypt` on it to publish.
   *
   * @default - the topic is not encrypted with a key of this app
   */
  readonly alertsTopicKey?: IKey;
  /** The functions: errors alarmed, errors and throttles graphed. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The Kinesis streams: iterator age alarmed and graphed. */
  readonly streams: Readonly<Record<string, IStream>>;
  /** Failure destinations and dead-letter queues: anything in them means something was not handled. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /**
   * Queues whose depth is graphed but not alarmed (the quarantine: bad input is the sender's problem).
   *
   * @default - none
   */
  readonly watchedQueues?: Readonly<Record<string, IQueue>>;
  /** The node-state table: throttled requests graphed. */
  readonly table: ITableV2;
  /** The runbook state machines: failed executions alarmed, outcomes graphed. */
  readonly stateMachines: Readonly<Record<string, IStateMachine>>;
  /**
   * The sweep state machine (Detector.sweepStateMachine): failed, timed-out or aborted executions alarmed.
   *
   * @default - none
   */
  readonly sweepStateMachine?: IStateMachine;
  /**
   * Stream iterator age above which ingestion is falling behind.
   *
   * @default Duration.minutes(5)
   */
  readonly maxIteratorAge?: Duration;
  /**
   * Period after which a sweep-less window means the detector stopped.
   *
   * @default Duration.minutes(5)
   */
  readonly sweepMissingAfter?: Duration;
  /**
   * Name of the CloudWatch dashboard.
   *
   * @default - `<stack name>-<region>`
   */
  readonly dashboardName?: string;
}

const FIVE_MINUTES = Duration.minutes(5);

/** A metric this app publishes through Powertools (EMF): `service` is the function's service name. */
function appMetric(metricName: string, service: string, statistic: string, period = FIVE_MINUTES): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service },
    statistic,
    period,
  });
}

/** Every series of an app metric, whatever its dimensions (a CloudWatch SEARCH expression). */
function appSearch(metricName: string, dimensions: readonly string[], statistic: string) {
  const schema = [METRICS_NAMESPACE, 'service', ...dimensions].join(',');
  return new MathExpression({
    expression: `SEARCH('{${schema}} MetricName="${metricName}"', '${statistic}', 300)`,
    label: '',
    period: FIVE_MINUTES,
  });
}

/**
 * The monitor's own monitoring: a CloudWatch dashboard (fleet health by status, replica lag per cluster,
 * incidents, runbook executions, ingestion counts, detection latency, queue depths, function errors and
 * throttles, stream iterator age, DynamoDB throttles) and alarms for what means the monitor itself is
 * broken, each publishing to the alerts topic:
 * - `<stream>IteratorAge`: a stream's consumer is falling behind (missing data: not breaching, an idle
 *   stream reports nothing);
 * - `<queue>NotEmpty`: a failure destination or dead-letter queue holds a message;
 * - `SweepNotRunning`: no SweepRuns for `sweepMissingAfter`; missing data is BREACHING, since a sweep that
 *   never starts publishes nothing;
 * - `<runbook>ExecutionsFailed`: a runbook execution failed, timed out or was aborted;
 * - `SweepExecutionsFailed`: a sweep execution failed, timed out or was aborted (the rest of its minute was
 *   not swept; a failed sweep is also in the sweep dead-letter queue);
 * - `<function>Errors`: a function invocation failed.
 */
export class Observability extends Construct {
  public readonly dashboard: Dashboard;
  /** Every alarm, by name (the names above). */
  public readonly alarms: Readonly<Record<string, Alarm>>;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const alarms: Record<string, Alarm> = {};
    const action = new SnsAction(props.alertsTopic);
    const alarm = (name: string, description: string, metric: IMetric, options: AlarmOptions) => {
      const created = new Alarm(this, name, {
        alarmDescription: `replica-sentinel: ${description}`,
        metric,
        threshold: options.threshold,
        comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        treatMissingData: options.missing ?? TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      alarms[name] = created;
      return created;
    };
    this.allowAlarmsToPublish(props, stack);

    const maxIteratorAge = props.maxIteratorAge ?? FIVE_MINUTES;
    const iteratorAges = Object.entries(props.streams).map(([name, stream]) => {
      const metric = stream.metricGetRecordsIteratorAgeMilliseconds({
        statistic: 'Maximum',
        period: Duration.minutes(1),
      });
      alarm(
        `${name}IteratorAge`,
        `${name} stream consumers are more than ${maxIteratorAge.toHumanString()} behind`,
        metric,
        {
          threshold: maxIteratorAge.toMilliseconds(),
          evaluationPeriods: 3,
        },
      );
      return metric.with({ label: name });
    });

    const queueDepth = (queue: IQueue) =>
      queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES });
    const deadLetterDepths = Object.entries(props.deadLetterQueues).map(([name, queue]) => {
      const metric = queueDepth(queue);
      alarm(`${name}NotEmpty`, `${name} holds messages that were not handled`, metric, { threshold: 1 });
      return metric.with({ label: name });
    });
    const watchedDepths = Object.entries(props.watchedQueues ?? {}).map(([name, queue]) =>
      queueDepth(queue).with({ label: name }),
    );

    const sweepMissingAfter = props.sweepMissingAfter ?? FIVE_MINUTES;
    const sweepRuns = appMetric('SweepRuns', 'sweep', 'Sum', sweepMissingAfter);
    alarm('SweepNotRunning', `no silence sweep ran for ${sweepMissingAfter.toHumanString()}`, sweepRuns, {
      threshold: 1,
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      missing: TreatMissingData.BREACHING,
    });

    if (props.sweepStateMachine !== undefined) {
      const machine = props.sweepStateMachine;
      alarm(
        'SweepExecutionsFailed',
        'a sweep execution failed, timed out or was aborted: the rest of its minute was not swept',
        new MathExpression({
          expression: 'failed + timedOut + aborted',
          usingMetrics: {
            failed: machine.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES }),
            timedOut: machine.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES }),
            aborted: machine.metricAborted({ statistic: 'Sum', period: FIVE_MINUTES }),
          },
          label: 'sweep executions failed',
          period: FIVE_MINUTES,
        }),
        { threshold: 1 },
      );
    }

    const executions = Object.entries(props.stateMachines).flatMap(([name, machine], i) => {
      // Ids must be unique across the expressions of one graph.
      const failed = new MathExpression({
        expression: `failed${i} + timedOut${i} + aborted${i}`,
        usingMetrics: {
          [`failed${i}`]: machine.metricFailed({ statistic: 'Sum', period: FIVE_MINUTES }),
          [`timedOut${i}`]: machine.metricTimedOut({ statistic: 'Sum', period: FIVE_MINUTES }),
          [`aborted${i}`]: machine.metricAborted({ statistic: 'Sum', period: FIVE_MINUTES }),
        },
        label: `${name} failed`,
        period: FIVE_MINUTES,
      });
      alarm(`${name}ExecutionsFailed`, `a ${name} runbook execution failed: a human must look`, failed, {
        threshold: 1,
      });
      return [
        failed,
        machine.metricSucceeded({ statistic: 'Sum', period: FIVE_MINUTES, label: `${name} succeeded` }),
      ];
    });

    const errors = Object.entries(props.functions).map(([name, fn]) => {
      const metric = fn.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES });
      alarm(`${name}Errors`, `the ${name} function failed`, metric, { threshold: 1 });
      return metric.with({ label: name });
    });
    const throttles = Object.entries(props.functions).map(([name, fn]) =>
      fn.metricThrottles({ statistic: 'Sum', period: FIVE_MINUTES, label: name }),
    );

    this.alarms = alarms;
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${stack.stackName}-${stack.region}`,
      defaultInterval: Duration.hours(6),
    });
    const graph = (title: string, left: IMetric[], options: { stacked?: boolean } = {}) =>
      new GraphWidget({ title, left, width: 12, height: 6, ...(options.stacked ? { stacked: true } : {}) });
    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Monitor health (alarms)', alarms: Object.values(alarms), width: 24 }),
    );
    this.dashboard.addWidgets(
      graph('Fleet health: nodes by status', [appSearch('NodesByStatus', ['Status'], 'Maximum')], {
        stacked: true,
      }),
      graph('Replica lag per cluster (s, worst)', [appSearch('ReplicaLagSeconds', ['ClusterId'], 'Maximum')]),
    );
    this.dashboard.addWidgets(
      graph('Incidents', [
        appSearch('IncidentsOpened', ['Kind'], 'Sum'),
        appSearch('IncidentsResolved', [], 'Sum'),
      ]),
      graph('Runbook executions', executions),
    );
    this.dashboard.addWidgets(
      graph('Heartbeats', [
        appMetric('HeartbeatsIngested', 'ingest-heartbeat', 'Sum'),
        appMetric('HeartbeatsCoalesced', 'ingest-heartbeat', 'Sum'),
        appMetric('HeartbeatsStale', 'ingest-heartbeat', 'Sum'),
        appMetric('HeartbeatsRejected', 'ingest-heartbeat', 'Sum'),
        appMetric('WriteConflicts', 'ingest-heartbeat', 'Sum'),
      ]),
      graph('Detection latency (ms, p90)', [appSearch('DetectionLatency', ['Status'], 'p90')]),
    );
    this.dashboard.addWidgets(
      graph('Dead-letter and failure queue depth', deadLetterDepths),
      graph('Quarantine depth (invalid input)', watchedDepths),
    );
    this.dashboard.addWidgets(graph('Function errors', errors), graph('Function throttles', throttles));
    this.dashboard.addWidgets(
      graph('Stream iterator age (ms, max)', iteratorAges),
      graph('DynamoDB throttled requests', [
        props.table.metricThrottledRequestsForOperations({
          operations: [Operation.GET_ITEM, Operation.PUT_ITEM, Operation.UPDATE_ITEM, Operation.QUERY],
          period: FIVE_MINUTES,
        }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Notifications', [
        appMetric('NotificationsSent', 'notify-slack', 'Sum'),
        appMetric('NotificationsFailed', 'notify-slack', 'Sum'),
        appSearch('RunbookOutcomes', ['Outcome', 'Runbook'], 'Sum'),
      ]),
    );
  }

  /**
   * CloudWatch publishes alarm notifications as the service: the topic policy and the topic's key must let
   * it (limited to this account's alarms).
   */
  private allowAlarmsToPublish(props: ObservabilityProps, stack: Stack): void {
    const principal = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOurAlarms = {
      ArnLike: {
        'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
      },
      StringEquals: { 'aws:SourceAccount': stack.account },
    };
    props.alertsTopic.addToResourcePolicy(
      new PolicyStatement({
        principals: [principal],
        actions: ['sns:Publish'],
        resources: [props.alertsTopic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    props.alertsTopicKey?.addToResourcePolicy(
      new PolicyStatement({
        principals: [principal],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: fromOurAlarms,
      }),
    );
  }
}

interface AlarmOptions {
  readonly threshold: number;
  readonly comparison?: ComparisonOperator;
  readonly evaluationPeriods?: number;
  readonly missing?: TreatMissingData;
}
