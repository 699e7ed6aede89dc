import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { METRICS_NAMESPACE } from '../../functions/adapters/metric-names';
import { emfMetrics } from '../../functions/adapters/metrics-emf';
import { detectionLatencyMs } from '../../functions/core/detection-latency';
import type { RunbookState } from '../../functions/core/runbook';
import { runbookOutcome } from '../../functions/runbook-steps/outcome-steps';
import { RecordingMetrics } from '../support/recording-metrics';

interface EmfLine {
  _aws: {
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  [key: string]: unknown;
}

/** EMF lines Powertools writes to stdout while `act` runs. */
function captureEmf(act: () => void): EmfLine[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as EmfLine);
}

describe('emfMetrics', () => {
  const saved = { dev: process.env.POWERTOOLS_DEV, disabled: process.env.POWERTOOLS_METRICS_DISABLED };
  afterEach(() => {
    process.env.POWERTOOLS_DEV = saved.dev;
    process.env.POWERTOOLS_METRICS_DISABLED = saved.disabled;
  });

  it('publishes one EMF line per dimension set in the ReplicaSentinel namespace with the service dimension', () => {
    delete process.env.POWERTOOLS_DEV;
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    const metrics = emfMetrics(
      'sweep',
      new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'sweep' }),
    );
    metrics.add('SweepRuns', 1);
    metrics.add('SweepRuns', 1);
    metrics.add('NodesByStatus', 7, { Status: 'HEALTHY' });
    metrics.add('NodesByStatus', 2, { Status: 'SILENT' });

    const lines = captureEmf(() => metrics.publish());

    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line._aws.CloudWatchMetrics[0]?.Namespace).toBe('ReplicaSentinel');
    const runs = lines.find((l) => 'SweepRuns' in l);
    expect(runs).toMatchObject({ SweepRuns: 2, service: 'sweep' });
    expect(runs?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    const healthy = lines.find((l) => l.Status === 'HEALTHY');
    expect(healthy).toMatchObject({ NodesByStatus: 7, service: 'sweep' });
    expect(healthy?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'Status']]);
    expect(lines.find((l) => l.Status === 'SILENT')).toMatchObject({ NodesByStatus: 2 });
  });

  it('keeps the dimensions on every value when one metric has more values than one EMF line holds', () => {
    delete process.env.POWERTOOLS_DEV;
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    const metrics = emfMetrics(
      'sweep',
      new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'sweep' }),
    );
    // 150 nodes turning SILENT in one sweep: 150 latencies under one Status.
    for (let i = 0; i < 150; i++) metrics.add('DetectionLatency', 1000 + i, { Status: 'SILENT' });
    metrics.add('OverdueNodes', 150);

    const lines = captureEmf(() => metrics.publish());

    const latency = lines.filter((l) => 'DetectionLatency' in l);
    expect(latency.length).toBeGreaterThan(1);
    for (const line of latency) {
      expect(line.Status).toBe('SILENT');
      expect(line._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'Status']]);
    }
    const values = latency.flatMap((l) => l.DetectionLatency as number[] | number);
    expect(values).toHaveLength(150);
    expect(new Set(values)).toEqual(new Set(Array.from({ length: 150 }, (_, i) => 1000 + i)));
    expect(lines.filter((l) => 'OverdueNodes' in l)).toHaveLength(1);
  });

  it('publishes nothing when nothing was added, and nothing twice', () => {
    delete process.env.POWERTOOLS_DEV;
    delete process.env.POWERTOOLS_METRICS_DISABLED;
    const metrics = emfMetrics('ingest-heartbeat', new PowertoolsMetrics({ namespace: METRICS_NAMESPACE }));
    metrics.add('HeartbeatsIngested', 3);
    expect(captureEmf(() => metrics.publish())).toHaveLength(1);
    expect(captureEmf(() => metrics.publish())).toHaveLength(0);
  });
});

describe('RecordingMetrics', () => {
  it('sums counts, keeps the worst gauge and every latency, per dimension set', () => {
    const metrics = new RecordingMetrics();
    metrics.add('HeartbeatsIngested', 3);
    metrics.add('HeartbeatsIngested', 4);
    metrics.add('ReplicaLagSeconds', 2, { ClusterId: 'a' });
    metrics.add('ReplicaLagSeconds', 9, { ClusterId: 'a' });
    metrics.add('ReplicaLagSeconds', 1, { ClusterId: 'b' });
    metrics.add('DetectionLatency', 100, { Status: 'SILENT' });
    metrics.add('DetectionLatency', 250, { Status: 'SILENT' });
    metrics.publish();

    expect(metrics.values('HeartbeatsIngested')).toEqual([7]);
    expect(metrics.values('ReplicaLagSeconds', { ClusterId: 'a' })).toEqual([9]);
    expect(metrics.values('ReplicaLagSeconds', { ClusterId: 'b' })).toEqual([1]);
    expect(metrics.values('DetectionLatency', { Status: 'SILENT' })).toEqual([100, 250]);
  });

  it('refuses a dimension the metric does not declare, so a node id never becomes one', () => {
    const metrics = new RecordingMetrics();
    expect(() => metrics.add('HeartbeatsIngested', 1, { NodeId: 'pg-2' })).toThrow(
      /HeartbeatsIngested takes dimensions \[\], got \[NodeId\]/,
    );
    expect(() => metrics.add('NodesByStatus', 1)).toThrow(/takes dimensions \[Status\], got \[\]/);
  });
});

describe('detectionLatencyMs', () => {
  const policy = { stallAfterSeconds: 60 };
  const before = { deadlineAt: 10_000, lastProgressAt: 1_000 };

  it('measures a SILENT or DEAD verdict from the node deadline', () => {
    expect(detectionLatencyMs(before, { status: 'SILENT', lastHeartbeatAt: 0 }, policy, 12_500)).toBe(2_500);
    expect(detectionLatencyMs(before, { status: 'DEAD', lastHeartbeatAt: 0 }, policy, 10_000)).toBe(0);
  });

  it('measures STALLED from the last progress plus stallAfterSeconds', () => {
    expect(detectionLatencyMs(before, { status: 'STALLED', lastHeartbeatAt: 70_000 }, policy, 64_000)).toBe(
      3_000,
    );
  });

  it('measures any other change from the observation of the heartbeat that showed it', () => {
    expect(detectionLatencyMs(before, { status: 'LAGGING', lastHeartbeatAt: 50_000 }, policy, 50_400)).toBe(
      400,
    );
  });

  it('reports nothing for a first write or a change before its due time', () => {
    expect(
      detectionLatencyMs(undefined, { status: 'HEALTHY', lastHeartbeatAt: 5 }, policy, 10),
    ).toBeUndefined();
    expect(
      detectionLatencyMs(before, { status: 'SILENT', lastHeartbeatAt: 0 }, policy, 9_000),
    ).toBeUndefined();
  });
});

describe('runbookOutcome', () => {
  const state = (fields: Partial<RunbookState>) => fields as RunbookState;

  it('names how the ending steps ended the runbook', () => {
    expect(runbookOutcome('complete', state({ outcome: 'recovered: pg-2 promoted' }))).toBe('recovered');
    expect(runbookOutcome('complete', state({ outcome: 'paged: pg-2 did not recover' }))).toBe('paged');
    expect(runbookOutcome('noCandidate', state({}))).toBe('no-candidate');
    expect(runbookOutcome('markFailed', state({}))).toBe('failed');
    expect(runbookOutcome('recordDryRun', state({}))).toBe('dry-run');
    expect(runbookOutcome('applyApproval', state({ next: 'rejected' }))).toBe('rejected');
  });

  it('names nothing for the steps in between', () => {
    expect(runbookOutcome('applyApproval', state({ next: 'approved' }))).toBeUndefined();
    expect(runbookOutcome('fence', state({}))).toBeUndefined();
  });
});
