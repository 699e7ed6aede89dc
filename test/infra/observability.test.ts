import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { METRICS } from '../../functions/adapters/metric-names';
import {
  ALL_OPTIONS_CONTEXT,
  type CfnResourceJson,
  logicalIdOfConstruct,
  resources,
  type TestApp,
  testApp,
} from './support';

type Props = Record<string, unknown>;

describe('the Observability construct in the stack with every option', () => {
  let app: TestApp;
  let template: Template;
  let all: Record<string, CfnResourceJson>;
  let topicRef: { Ref: string };
  const alarms = () => Object.values(all).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
  const alarmNamed = (name: string): Props => {
    const alarm = app.stack.observability.alarms[name];
    if (!alarm) throw new Error(`no alarm ${name}; alarms: ${Object.keys(app.stack.observability.alarms)}`);
    const props = all[logicalIdOfConstruct(app.stack, alarm)]?.Properties;
    if (!props) throw new Error(`alarm ${name} is not in the template`);
    return props;
  };

  beforeAll(() => {
    app = testApp({ bundling: false, context: ALL_OPTIONS_CONTEXT });
    template = Template.fromStack(app.stack);
    all = resources(template);
    topicRef = { Ref: logicalIdOfConstruct(app.stack, app.stack.notifications.topic) };
  });
  afterAll(() => app.cleanup());

  it('sends every alarm, and its recovery, to the alerts topic', () => {
    expect(alarms().length).toBeGreaterThan(10);
    for (const alarm of alarms()) {
      expect(alarm.Properties?.AlarmActions).toEqual([topicRef]);
      expect(alarm.Properties?.OKActions).toEqual([topicRef]);
    }
  });

  it('alarms when no sweep ran for five minutes, treating missing SweepRuns as breaching', () => {
    expect(METRICS.SweepRuns.dimensions).toEqual([]);
    expect(alarmNamed('SweepNotRunning')).toMatchObject({
      Namespace: 'ReplicaSentinel',
      MetricName: 'SweepRuns',
      Dimensions: [{ Name: 'service', Value: 'sweep' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
  });

  it('alarms when either stream consumer is more than five minutes behind', () => {
    const streams = {
      Heartbeats: app.stack.ingest.heartbeatStream,
      ChangeEvents: app.stack.ingest.changeStream,
    };
    expect(streams.ChangeEvents).toBeDefined();
    for (const [name, stream] of Object.entries(streams)) {
      if (stream === undefined) continue;
      expect(alarmNamed(`${name}IteratorAge`)).toMatchObject({
        Namespace: 'AWS/Kinesis',
        MetricName: 'GetRecords.IteratorAgeMilliseconds',
        Dimensions: [{ Name: 'StreamName', Value: { Ref: logicalIdOfConstruct(app.stack, stream) } }],
        Statistic: 'Maximum',
        Threshold: 300_000,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 3,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms on one message in any failure destination or dead-letter queue, not on the quarantine', () => {
    const queues = {
      IngestFailures: app.stack.ingest.failureQueue,
      DetectorFailures: app.stack.detector.failureQueue,
      SweepDeadLetters: app.stack.detector.sweepDeadLetterQueue,
      NotifySlackDeadLetters: app.stack.notifications.deadLetterQueue,
    };
    for (const [name, queue] of Object.entries(queues)) {
      if (!queue) throw new Error(`${name} is missing with every option on`);
      expect(alarmNamed(`${name}NotEmpty`)).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalIdOfConstruct(app.stack, queue), 'QueueName'] },
          },
        ],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
    const quarantine = logicalIdOfConstruct(app.stack, app.stack.ingest.quarantineQueue);
    expect(JSON.stringify(alarms())).not.toContain(quarantine);
  });

  it('alarms when a runbook execution fails, times out or is aborted', () => {
    const machines = {
      PrimaryFailover: app.stack.runbooks.failover,
      ReplicaRecovery: app.stack.runbooks.recovery,
    };
    for (const [name, machine] of Object.entries(machines)) {
      const props = alarmNamed(`${name}ExecutionsFailed`);
      expect(props).toMatchObject({ Threshold: 1, TreatMissingData: 'notBreaching' });
      const metrics = props.Metrics as Array<{ Expression?: string; MetricStat?: { Metric: Props } }>;
      const names = metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
      expect(names.sort()).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
      for (const m of metrics.filter((m) => m.MetricStat)) {
        expect(m.MetricStat?.Metric.Dimensions).toEqual([
          { Name: 'StateMachineArn', Value: { Ref: logicalIdOfConstruct(app.stack, machine) } },
        ]);
      }
      expect(metrics.some((m) => /\+.*\+/.test(m.Expression ?? ''))).toBe(true);
    }
  });

  it('alarms when a sweep execution fails, times out or is aborted', () => {
    const props = alarmNamed('SweepExecutionsFailed');
    expect(props).toMatchObject({ Threshold: 1, TreatMissingData: 'notBreaching', EvaluationPeriods: 1 });
    const metrics = props.Metrics as Array<{
      Expression?: string;
      MetricStat?: { Metric: Props; Period: number };
    }>;
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('failed + timedOut + aborted');
    const stats = metrics.flatMap((m) => (m.MetricStat ? [m.MetricStat] : []));
    expect(stats.map((m) => m.Metric.MetricName).sort()).toEqual([
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    for (const stat of stats) {
      expect(stat.Metric.Dimensions).toEqual([
        {
          Name: 'StateMachineArn',
          Value: { Ref: logicalIdOfConstruct(app.stack, app.stack.detector.sweepStateMachine) },
        },
      ]);
    }
  });

  it('alarms on the errors of every function of the stack', () => {
    const functions = Object.entries(all)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([id]) => id);
    const alarmed = alarms()
      .map((a) => a.Properties ?? {})
      .filter((p) => p.Namespace === 'AWS/Lambda' && p.MetricName === 'Errors')
      .map((p) => (p.Dimensions as Array<{ Value: { Ref: string } }>)[0]?.Value.Ref ?? '');
    expect(alarmed.sort()).toEqual(functions.sort());
    expect(alarmNamed('SweepErrors')).toMatchObject({
      Threshold: 1,
      Statistic: 'Sum',
      TreatMissingData: 'notBreaching',
    });
  });

  it('lets CloudWatch alarms of this account publish to the encrypted topic', () => {
    const topicPolicy = Object.values(all).find(
      (r) =>
        r.Type === 'AWS::SNS::TopicPolicy' &&
        JSON.stringify(r.Properties?.Topics) === JSON.stringify([topicRef]),
    );
    const statements = JSON.stringify(topicPolicy?.Properties?.PolicyDocument);
    expect(statements).toContain('cloudwatch.amazonaws.com');
    expect(statements).toContain('aws:SourceAccount');
    const keyId = logicalIdOfConstruct(app.stack, app.stack.notifications.key);
    const keyPolicy = all[keyId]?.Properties?.KeyPolicy as { Statement: Array<Props> };
    const forAlarms = keyPolicy.Statement.find((s) =>
      JSON.stringify(s.Principal).includes('cloudwatch.amazonaws.com'),
    );
    expect(forAlarms?.Action).toEqual(['kms:GenerateDataKey*', 'kms:Decrypt']);
    expect(JSON.stringify(forAlarms?.Condition)).toContain(':alarm:*');
  });

  it('draws a dashboard with fleet health, lag, incidents, queues, errors, throttles, iterator age and runbooks', () => {
    const dashboards = Object.values(all).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties?.DashboardBody);
    for (const title of [
      'Fleet health: nodes by status',
      'Replica lag per cluster',
      'Incidents',
      'Runbook executions',
      'Dead-letter and failure queue depth',
      'Quarantine depth',
      'Function errors',
      'Function throttles',
      'Stream iterator age',
      'DynamoDB throttled requests',
      'Detection latency',
      'Monitor health (alarms)',
    ]) {
      expect(body).toContain(title);
    }
    for (const metric of [
      'NodesByStatus',
      'ReplicaLagSeconds',
      'IncidentsOpened',
      'HeartbeatsRejected',
      'GetRecords.IteratorAgeMilliseconds',
      'ThrottledRequests',
      'ExecutionsSucceeded',
      'Throttles',
    ]) {
      expect(body).toContain(metric);
    }
  });
});
