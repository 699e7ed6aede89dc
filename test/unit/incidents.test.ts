import { describe, expect, it } from '@jest/globals';
import {
  type ClusterMode,
  decideIncident,
  type Incident,
  type IncidentDecision,
  type IncidentEvent,
  incidentIdFor,
  isIncidentKind,
  type Muting,
  runbookFor,
  type Transition,
  type TransitionContext,
} from '../../functions/core/incidents';
import type { NodeStatus } from '../../functions/core/node-state';
import { DEFAULT_POLICY } from '../../functions/core/policy';

const T0 = Date.UTC(2025, 0, 15, 8, 0, 0);
const MINUTE = 60_000;
const STALL_REASON = 'applied position 0/3000060 has not moved for 75s while the source advanced';

/** A transition of replica r2 of cache-redis; every field can be overridden. */
function transition(overrides: Partial<Transition> & Pick<Transition, 'to'>): Transition {
  return {
    clusterId: 'cache-redis',
    nodeId: 'r2',
    role: 'replica',
    engine: 'redis',
    from: 'HEALTHY',
    version: 42,
    at: T0,
    reason: `${overrides.to} for the test`,
    ...overrides,
  };
}

const ctx = (overrides: Partial<TransitionContext> = {}): TransitionContext => ({
  policy: DEFAULT_POLICY,
  mode: 'auto',
  ...overrides,
});

function opened(decision: IncidentDecision): Incident {
  if (decision.action !== 'open') throw new Error(`expected open, got ${JSON.stringify(decision)}`);
  return decision.incident;
}

function updated(decision: IncidentDecision): { incident: Incident; event: IncidentEvent } {
  if (decision.action !== 'update') throw new Error(`expected update, got ${JSON.stringify(decision)}`);
  return { incident: decision.incident, event: decision.event };
}

/** The incident after the node's first bad transition (HEALTHY → `to`), at version 42. */
function openIncident(overrides: Partial<Transition> & Pick<Transition, 'to'>, mode: ClusterMode = 'auto') {
  return opened(decideIncident(transition(overrides), ctx({ mode })));
}

describe('isIncidentKind', () => {
  it.each<[NodeStatus, boolean]>([
    ['LAGGING', true],
    ['STALLED', true],
    ['SILENT', true],
    ['DEAD', true],
    ['HEALTHY', false],
    ['RECOVERING', false],
    ['FENCED', false],
    ['MAINTENANCE', false],
    ['SPLIT_BRAIN', true],
    ['WRONG_SOURCE', true],
    ['DATA_LOSS', true],
  ])('says whether %s raises an incident (%s)', (status, expected) => {
    expect(isIncidentKind(status)).toBe(expected);
  });
});

describe('runbookFor', () => {
  it.each([
    { kind: 'STALLED', role: 'replica', mode: 'auto', expected: 'replica-recovery' },
    { kind: 'DEAD', role: 'primary', mode: 'approve', expected: 'primary-failover' },
    { kind: 'DEAD', role: 'primary', mode: 'dry-run', expected: 'primary-failover' },
    { kind: 'DEAD', role: 'primary', mode: 'off', expected: undefined },
    { kind: 'STALLED', role: 'replica', mode: 'off', expected: undefined },
    { kind: 'LAGGING', role: 'replica', mode: 'auto', expected: undefined },
    { kind: 'SILENT', role: 'primary', mode: 'auto', expected: undefined },
    { kind: 'DEAD', role: 'replica', mode: 'auto', expected: undefined },
    { kind: 'STALLED', role: 'primary', mode: 'auto', expected: undefined },
    { kind: 'SPLIT_BRAIN', role: 'primary', mode: 'auto', expected: 'replica-recovery' },
    { kind: 'SPLIT_BRAIN', role: 'primary', mode: 'approve', expected: 'replica-recovery' },
    { kind: 'SPLIT_BRAIN', role: 'primary', mode: 'dry-run', expected: 'replica-recovery' },
    { kind: 'SPLIT_BRAIN', role: 'primary', mode: 'off', expected: undefined },
    { kind: 'WRONG_SOURCE', role: 'replica', mode: 'auto', expected: 'replica-recovery' },
    { kind: 'WRONG_SOURCE', role: 'replica', mode: 'approve', expected: 'replica-recovery' },
    { kind: 'WRONG_SOURCE', role: 'replica', mode: 'dry-run', expected: 'replica-recovery' },
    { kind: 'WRONG_SOURCE', role: 'replica', mode: 'off', expected: undefined },
    { kind: 'DATA_LOSS', role: 'primary', mode: 'auto', expected: undefined },
    { kind: 'DATA_LOSS', role: 'primary', mode: 'approve', expected: undefined },
  ] as const)('hands a $kind $role in mode $mode to $expected', ({ kind, role, mode, expected }) => {
    expect(runbookFor(kind, role, mode)).toBe(expected);
  });
});

describe('decideIncident: opening', () => {
  it('opens a major incident handed to replica-recovery when a replica goes from HEALTHY to STALLED', () => {
    // Prepare
    const t = transition({
      to: 'STALLED',
      reason: STALL_REASON,
      lagSeconds: 75,
      lagUnits: 4096,
      appliedPosition: '0/3000060',
      sourcePosition: '0/3001060',
    });

    // Act
    const decision = decideIncident(t, ctx());

    // Assess
    expect(decision).toStrictEqual({
      action: 'open',
      incident: {
        clusterId: 'cache-redis',
        incidentId: incidentIdFor(t),
        nodeId: 'r2',
        role: 'replica',
        engine: 'redis',
        kind: 'STALLED',
        severity: 'major',
        state: 'OPEN',
        openedAt: T0,
        updatedAt: T0,
        lastNodeVersion: 42,
        revision: 1,
        flaps: 0,
        timeline: [{ at: T0, event: 'opened', from: 'HEALTHY', to: 'STALLED', reason: STALL_REASON }],
        lagSeconds: 75,
        lagUnits: 4096,
        appliedPosition: '0/3000060',
        sourcePosition: '0/3001060',
        runbook: 'replica-recovery',
        outbox: { notifyVersion: 1, runbook: 'replica-recovery' },
      },
    });
  });

  it.each([
    { to: 'LAGGING', role: 'replica', severity: 'warning' },
    { to: 'SILENT', role: 'replica', severity: 'major' },
    { to: 'SILENT', role: 'primary', severity: 'major' },
    { to: 'DEAD', role: 'replica', severity: 'critical' },
  ] as const)(
    'opens a $severity incident without a runbook when a $role becomes $to',
    ({ to, role, severity }) => {
      // Act
      const incident = openIncident({ to, role });

      // Assess
      expect([incident.kind, incident.severity, incident.state, incident.revision]).toEqual([
        to,
        severity,
        'OPEN',
        1,
      ]);
      expect(incident.runbook).toBeUndefined();
      expect(incident.outbox).toStrictEqual({ notifyVersion: 1 });
    },
  );
});

describe('decideIncident: changes of an open incident', () => {
  it('escalates an open LAGGING incident to STALLED and hands it to replica-recovery', () => {
    // Prepare
    const latest = openIncident({ to: 'LAGGING', lagSeconds: 45 });
    const t = transition({
      from: 'LAGGING',
      to: 'STALLED',
      version: 43,
      at: T0 + MINUTE,
      reason: STALL_REASON,
      lagSeconds: 120,
      lagUnits: 8192,
      appliedPosition: '0/3000060',
      sourcePosition: '0/3002060',
    });

    // Act
    const decision = decideIncident(t, ctx({ latest }));

    // Assess
    expect(decision).toEqual({
      action: 'update',
      event: 'escalated',
      incident: {
        ...latest,
        kind: 'STALLED',
        severity: 'major',
        updatedAt: T0 + MINUTE,
        lastNodeVersion: 43,
        revision: 2,
        timeline: [
          ...latest.timeline,
          { at: T0 + MINUTE, event: 'escalated', from: 'LAGGING', to: 'STALLED', reason: STALL_REASON },
        ],
        lagSeconds: 120,
        lagUnits: 8192,
        appliedPosition: '0/3000060',
        sourcePosition: '0/3002060',
        runbook: 'replica-recovery',
        outbox: { notifyVersion: 2, runbook: 'replica-recovery' },
      },
    });
    expect(updated(decision).incident.incidentId).toBe(latest.incidentId);
  });

  it('hands the runbook over only once when the incident goes back to STALLED', () => {
    // Prepare: LAGGING → STALLED (runbook handed over) → LAGGING
    const lagging = openIncident({ to: 'LAGGING' });
    const stalled = updated(
      decideIncident(transition({ from: 'LAGGING', to: 'STALLED', version: 43 }), ctx({ latest: lagging })),
    ).incident;
    const laggingAgain = updated(
      decideIncident(transition({ from: 'STALLED', to: 'LAGGING', version: 44 }), ctx({ latest: stalled })),
    ).incident;

    // Act
    const { incident, event } = updated(
      decideIncident(
        transition({ from: 'LAGGING', to: 'STALLED', version: 45 }),
        ctx({ latest: laggingAgain }),
      ),
    );

    // Assess
    expect(stalled.outbox).toStrictEqual({ notifyVersion: 2, runbook: 'replica-recovery' });
    expect(event).toBe('escalated');
    expect(incident.revision).toBe(4);
    expect(incident.runbook).toBe('replica-recovery');
    expect(incident.outbox).toStrictEqual({ notifyVersion: 4 });
  });

  it('notes a STALLED → SILENT → STALLED round trip of the same severity without handing the runbook over again', () => {
    // Prepare
    const stalled = openIncident({ to: 'STALLED' });
    const silent = updated(
      decideIncident(transition({ from: 'STALLED', to: 'SILENT', version: 43 }), ctx({ latest: stalled })),
    );

    // Act
    const back = updated(
      decideIncident(
        transition({ from: 'SILENT', to: 'STALLED', version: 44 }),
        ctx({ latest: silent.incident }),
      ),
    );

    // Assess
    expect([silent.event, silent.incident.kind, silent.incident.severity]).toEqual([
      'noted',
      'SILENT',
      'major',
    ]);
    expect(silent.incident.runbook).toBe('replica-recovery');
    expect(silent.incident.outbox).toStrictEqual({ notifyVersion: 2 });
    expect([back.event, back.incident.kind, back.incident.revision]).toEqual(['noted', 'STALLED', 3]);
    expect(back.incident.outbox).toStrictEqual({ notifyVersion: 3 });
  });

  it('deescalates an open STALLED incident to a warning when the replica is only LAGGING again', () => {
    // Prepare
    const latest = openIncident({ to: 'STALLED' });

    // Act
    const { incident, event } = updated(
      decideIncident(
        transition({ from: 'STALLED', to: 'LAGGING', version: 43, at: T0 + 2 * MINUTE, lagSeconds: 40 }),
        ctx({ latest }),
      ),
    );

    // Assess
    expect(event).toBe('deescalated');
    expect(incident).toEqual({
      ...latest,
      kind: 'LAGGING',
      severity: 'warning',
      updatedAt: T0 + 2 * MINUTE,
      lastNodeVersion: 43,
      revision: 2,
      lagSeconds: 40,
      timeline: [
        ...latest.timeline,
        {
          at: T0 + 2 * MINUTE,
          event: 'deescalated',
          from: 'STALLED',
          to: 'LAGGING',
          reason: 'LAGGING for the test',
        },
      ],
      outbox: { notifyVersion: 2 },
    });
  });

  it('escalates a SILENT primary that is confirmed DEAD to critical and hands it to primary-failover', () => {
    // Prepare
    const latest = openIncident({ nodeId: 'r1', role: 'primary', to: 'SILENT' });

    // Act
    const { incident, event } = updated(
      decideIncident(
        transition({
          nodeId: 'r1',
          role: 'primary',
          from: 'SILENT',
          to: 'DEAD',
          version: 43,
          at: T0 + MINUTE,
        }),
        ctx({ latest }),
      ),
    );

    // Assess
    expect(latest.runbook).toBeUndefined();
    expect(event).toBe('escalated');
    expect([incident.incidentId, incident.kind, incident.severity, incident.revision]).toEqual([
      latest.incidentId,
      'DEAD',
      'critical',
      2,
    ]);
    expect(incident.runbook).toBe('primary-failover');
    expect(incident.outbox).toStrictEqual({ notifyVersion: 2, runbook: 'primary-failover' });
  });

  it('resolves the open incident when the node is HEALTHY again', () => {
    // Prepare
    const latest = openIncident({ to: 'STALLED', lagSeconds: 75 });
    const healthy = transition({
      from: 'STALLED',
      to: 'HEALTHY',
      version: 50,
      at: T0 + 5 * MINUTE,
      reason: '3 consecutive good heartbeats',
      lagSeconds: 0,
      lagUnits: 0,
    });

    // Act
    const decision = decideIncident(healthy, ctx({ latest }));

    // Assess
    expect(decision).toEqual({
      action: 'update',
      event: 'resolved',
      incident: {
        ...latest,
        state: 'RESOLVED',
        resolvedAt: T0 + 5 * MINUTE,
        updatedAt: T0 + 5 * MINUTE,
        lastNodeVersion: 50,
        revision: 2,
        lagSeconds: 0,
        lagUnits: 0,
        timeline: [
          ...latest.timeline,
          {
            at: T0 + 5 * MINUTE,
            event: 'resolved',
            from: 'STALLED',
            to: 'HEALTHY',
            reason: '3 consecutive good heartbeats',
          },
        ],
        outbox: { notifyVersion: 2 },
      },
    });
  });

  it.each<NodeStatus>(['RECOVERING', 'FENCED', 'MAINTENANCE'])(
    'notes %s on the open incident without changing its kind or severity',
    (to) => {
      // Prepare
      const latest = openIncident({ to: 'STALLED' });

      // Act
      const { incident, event } = updated(
        decideIncident(transition({ from: 'STALLED', to, version: 43, at: T0 + MINUTE }), ctx({ latest })),
      );

      // Assess
      expect(event).toBe('noted');
      expect([incident.state, incident.kind, incident.severity, incident.revision]).toEqual([
        'OPEN',
        'STALLED',
        'major',
        2,
      ]);
      expect(incident.timeline.at(-1)).toEqual({
        at: T0 + MINUTE,
        event: 'noted',
        from: 'STALLED',
        to,
        reason: `${to} for the test`,
      });
      expect(incident.outbox).toStrictEqual({ notifyVersion: 2 });
    },
  );
});

describe('decideIncident: nothing to do', () => {
  it.each<{ name: string; to: NodeStatus; latest: () => Incident | undefined; why: string }>([
    {
      name: 'HEALTHY for a node that never had an incident',
      to: 'HEALTHY',
      latest: () => undefined,
      why: 'HEALTHY with no open incident',
    },
    {
      name: 'HEALTHY for a node whose incident is already resolved',
      to: 'HEALTHY',
      latest: () =>
        updated(
          decideIncident(
            transition({ from: 'STALLED', to: 'HEALTHY', version: 43 }),
            ctx({ latest: openIncident({ to: 'STALLED' }) }),
          ),
        ).incident,
      why: 'HEALTHY with no open incident',
    },
    {
      name: 'RECOVERING with no open incident',
      to: 'RECOVERING',
      latest: () => undefined,
      why: 'RECOVERING with no open incident',
    },
  ])('does nothing on $name', ({ to, latest, why }) => {
    // Act
    const decision = decideIncident(
      transition({ from: 'STALLED', to, version: 100 }),
      ctx({ latest: latest() }),
    );

    // Assess
    expect(decision).toStrictEqual({ action: 'none', why });
  });

  it.each([
    { name: 'the same node version (a re-delivery)', version: 42 },
    { name: 'an older node version (out of order)', version: 41 },
  ])('ignores a transition with $name', ({ version }) => {
    // Prepare
    const latest = openIncident({ to: 'STALLED' });

    // Act
    const decision = decideIncident(
      transition({ from: 'STALLED', to: 'DEAD', role: 'replica', version }),
      ctx({ latest }),
    );

    // Assess
    expect(decision).toStrictEqual({
      action: 'none',
      why: `node version ${version} already applied to ${latest.incidentId}`,
    });
  });

  it('ignores the re-delivery of the very transition that opened the incident', () => {
    // Prepare
    const t = transition({ to: 'STALLED' });
    const latest = opened(decideIncident(t, ctx()));

    // Act
    const decision = decideIncident(t, ctx({ latest }));

    // Assess
    expect(decision.action).toBe('none');
  });
});

describe('decideIncident: maintenance', () => {
  const until = Date.UTC(2025, 0, 15, 10, 0, 0);

  it.each<{ scope: Muting['scope']; by: string; reason: string }>([
    { scope: 'cluster', by: 'alice@example.com', reason: 'kernel upgrade' },
    { scope: 'node', by: 'bob', reason: 'disk replacement on r2' },
  ])(
    'opens nothing while the $scope is in maintenance and says who muted it and why',
    ({ scope, by, reason }) => {
      // Act
      const decision = decideIncident(
        transition({ to: 'STALLED' }),
        ctx({ muting: { scope, by, reason, until } }),
      );

      // Assess
      expect(decision).toStrictEqual({
        action: 'none',
        why: `muted: ${scope} in maintenance until 2025-01-15T10:00:00.000Z by ${by} (${reason})`,
      });
    },
  );

  it('does not escalate an open incident into a failover while the cluster is in maintenance', () => {
    // Prepare
    const latest = openIncident({ nodeId: 'r1', role: 'primary', to: 'SILENT' });

    // Act
    const decision = decideIncident(
      transition({ nodeId: 'r1', role: 'primary', from: 'SILENT', to: 'DEAD', version: 43 }),
      ctx({ latest, muting: { scope: 'cluster', by: 'alice', reason: 'planned failover', until } }),
    );

    // Assess
    expect(decision).toStrictEqual({
      action: 'none',
      why: 'muted: cluster in maintenance until 2025-01-15T10:00:00.000Z by alice (planned failover)',
    });
  });
});

describe('decideIncident: cluster mode', () => {
  it.each<{ mode: ClusterMode; outbox: object }>([
    { mode: 'off', outbox: { notifyVersion: 1 } },
    { mode: 'dry-run', outbox: { notifyVersion: 1, runbook: 'replica-recovery' } },
    { mode: 'approve', outbox: { notifyVersion: 1, runbook: 'replica-recovery' } },
    { mode: 'auto', outbox: { notifyVersion: 1, runbook: 'replica-recovery' } },
  ])('in mode $mode, a STALLED replica incident has the outbox $outbox', ({ mode, outbox }) => {
    // Act
    const incident = openIncident({ to: 'STALLED' }, mode);

    // Assess
    expect(incident.outbox).toStrictEqual(outbox);
  });

  it.each<{ mode: ClusterMode; outbox: object }>([
    { mode: 'off', outbox: { notifyVersion: 2 } },
    { mode: 'dry-run', outbox: { notifyVersion: 2, runbook: 'primary-failover' } },
    { mode: 'approve', outbox: { notifyVersion: 2, runbook: 'primary-failover' } },
    { mode: 'auto', outbox: { notifyVersion: 2, runbook: 'primary-failover' } },
  ])('in mode $mode, a primary escalated to DEAD has the outbox $outbox', ({ mode, outbox }) => {
    // Prepare
    const latest = openIncident({ nodeId: 'r1', role: 'primary', to: 'SILENT' }, mode);

    // Act
    const { incident } = updated(
      decideIncident(
        transition({ nodeId: 'r1', role: 'primary', from: 'SILENT', to: 'DEAD', version: 43 }),
        ctx({ latest, mode }),
      ),
    );

    // Assess
    expect(incident.outbox).toStrictEqual(outbox);
  });
});

describe('decideIncident: flapping and cooldown', () => {
  const policy = { ...DEFAULT_POLICY, incidentCooldownSeconds: 900 };

  /** Feeds transitions one after the other, as on-transition does, keeping the latest incident. */
  function replay(transitions: Transition[], start?: Incident) {
    let latest = start;
    const decisions: IncidentDecision[] = [];
    for (const t of transitions) {
      const decision = decideIncident(t, { latest, policy, mode: 'auto' });
      decisions.push(decision);
      if (decision.action !== 'none') latest = decision.incident;
    }
    return { latest, decisions };
  }

  /** A node going STALLED and back to HEALTHY every 2 minutes for an hour (30 transitions). */
  const flappingHour = Array.from({ length: 30 }, (_, i) =>
    transition({
      from: i % 2 === 0 ? 'HEALTHY' : 'STALLED',
      to: i % 2 === 0 ? 'STALLED' : 'HEALTHY',
      version: 100 + i,
      at: T0 + i * 2 * MINUTE,
    }),
  );

  it('raises exactly one incident for a node flapping every 2 minutes for an hour and counts the flaps', () => {
    // Act
    const { latest, decisions } = replay(flappingHour);

    // Assess
    const ids = new Set(decisions.map((d) => (d.action === 'none' ? d.why : d.incident.incidentId)));
    expect(ids).toEqual(
      new Set([incidentIdFor({ clusterId: 'cache-redis', nodeId: 'r2', version: 100, at: T0 })]),
    );
    expect(decisions.map((d) => (d.action === 'update' ? d.event : d.action))).toEqual([
      'open',
      ...Array.from({ length: 14 }, () => ['resolved', 'reopened']).flat(),
      'resolved',
    ]);
    expect([latest?.state, latest?.flaps, latest?.revision, latest?.timeline.length]).toEqual([
      'RESOLVED',
      14,
      30,
      30,
    ]);
  });

  it('reopens the incident with its runbook when the node goes bad again within the cooldown', () => {
    // Prepare
    const { latest } = replay(flappingHour.slice(0, 2));

    // Act
    const { incident, event } = updated(
      decideIncident(
        transition({ from: 'HEALTHY', to: 'STALLED', version: 200, at: T0 + 2 * MINUTE + 14 * MINUTE }),
        { latest, policy, mode: 'auto' },
      ),
    );

    // Assess
    expect(event).toBe('reopened');
    expect(incident.incidentId).toBe(latest?.incidentId);
    expect([incident.state, incident.resolvedAt, incident.flaps, incident.revision]).toEqual([
      'OPEN',
      undefined,
      1,
      3,
    ]);
    expect(incident.outbox).toStrictEqual({ notifyVersion: 3, runbook: 'replica-recovery' });
  });

  it('opens a new incident only after a quiet period longer than the cooldown', () => {
    // Prepare: the flapping hour ends HEALTHY at T0 + 58 min
    const { latest } = replay(flappingHour);
    const next = transition({
      from: 'HEALTHY',
      to: 'STALLED',
      version: 300,
      at: T0 + 58 * MINUTE + 16 * MINUTE,
    });

    // Act
    const incident = opened(decideIncident(next, { latest, policy, mode: 'auto' }));

    // Assess
    expect(incident.incidentId).toBe(incidentIdFor(next));
    expect(incident.incidentId).not.toBe(latest?.incidentId);
    expect([incident.flaps, incident.revision, incident.state]).toEqual([0, 1, 'OPEN']);
  });
});

describe('incidentIdFor', () => {
  const base = { clusterId: 'cache-redis', nodeId: 'r2', version: 42, at: T0 };

  it('makes the same id for the same transition', () => {
    expect(incidentIdFor({ ...base })).toBe(incidentIdFor({ ...base }));
  });

  it('starts with the readable cluster and node and ends with the version and time', () => {
    expect(incidentIdFor(base)).toMatch(new RegExp(`^cache-redis-r2-[0-9a-z]+-42-${T0.toString(36)}$`));
  });

  it.each([
    { name: 'colons, slashes, @ and dots', clusterId: 'pg.prod:eu-west-1/main', nodeId: 'db@10.0.0.7:5432' },
    { name: 'the longest ids the wire format allows', clusterId: 'c'.repeat(128), nodeId: 'n/'.repeat(64) },
  ])('is a valid Step Functions execution name for ids with $name', ({ clusterId, nodeId }) => {
    // Act
    const id = incidentIdFor({ clusterId, nodeId, version: Number.MAX_SAFE_INTEGER, at: T0 });

    // Assess
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it('differs across versions and times of the same node', () => {
    const ids = new Set([
      incidentIdFor(base),
      incidentIdFor({ ...base, version: 43 }),
      incidentIdFor({ ...base, at: T0 + 1 }),
    ]);

    expect(ids.size).toBe(3);
  });

  it('differs for nodes whose readable parts are the same after cleaning up', () => {
    const ids = new Set(['r.1', 'r:1', 'r_1', 'r@1'].map((nodeId) => incidentIdFor({ ...base, nodeId })));

    expect(ids.size).toBe(4);
  });

  it('differs for two clusters whose ids share a 40-character prefix and whose names contain a slash', () => {
    // Prepare: both readable parts are cut to the same 40 characters; '/' is allowed in wire ids
    const prefix = 'a'.repeat(40);
    const first = { clusterId: `${prefix}/b`, nodeId: 'c', version: 5, at: T0 };
    const second = { clusterId: prefix, nodeId: 'b/c', version: 5, at: T0 };

    // Act, Assess
    expect(incidentIdFor(first)).not.toBe(incidentIdFor(second));
  });
});

describe('replicas of a source that is down', () => {
  const stalled = {
    clusterId: 'orders-pg',
    nodeId: 'pg-2',
    role: 'replica' as const,
    from: 'HEALTHY' as const,
    to: 'STALLED' as const,
    version: 7,
    at: 1_795_388_400_000,
    reason: 'applied position has not advanced for 60s (replication link down)',
  };

  it.each(['DEAD', 'SILENT'] as const)(
    'opens nothing for a replica whose source is %s: it is a symptom',
    (status) => {
      const decision = decideIncident(stalled, {
        policy: DEFAULT_POLICY,
        mode: 'auto',
        sourceDown: { nodeId: 'pg-1', status },
      });
      expect(decision).toEqual({
        action: 'none',
        why: `symptom: its source pg-1 is ${status}; handled by that node's incident and failover`,
      });
    },
  );

  it('still updates an incident the replica already had open', () => {
    const opened = decideIncident({ ...stalled, to: 'LAGGING' }, { policy: DEFAULT_POLICY, mode: 'auto' });
    if (opened.action !== 'open') throw new Error('expected open');
    const decision = decideIncident(
      { ...stalled, version: 8 },
      {
        latest: opened.incident,
        policy: DEFAULT_POLICY,
        mode: 'auto',
        sourceDown: { nodeId: 'pg-1', status: 'DEAD' },
      },
    );
    expect(decision).toMatchObject({ action: 'update', event: 'escalated' });
    // ... without handing it to replica-recovery, which cannot help while the source is down.
    expect(decision.action === 'update' ? decision.incident.outbox : undefined).toEqual({ notifyVersion: 2 });
  });
});

describe('split brain, wrong source and data loss incidents', () => {
  it.each([
    { to: 'SPLIT_BRAIN', role: 'primary', severity: 'critical', runbook: 'replica-recovery' },
    { to: 'WRONG_SOURCE', role: 'replica', severity: 'major', runbook: 'replica-recovery' },
    { to: 'DATA_LOSS', role: 'primary', severity: 'critical', runbook: undefined },
  ] as const)('opens a $severity $to incident handed to $runbook', ({ to, role, severity, runbook }) => {
    const incident = openIncident({ to, role, from: role === 'primary' ? 'FENCED' : 'HEALTHY' });
    expect(incident).toMatchObject({ kind: to, severity, state: 'OPEN', engine: 'redis' });
    expect(incident.runbook).toBe(runbook);
    expect(incident.outbox).toEqual(runbook ? { notifyVersion: 1, runbook } : { notifyVersion: 1 });
  });

  it.each(['SPLIT_BRAIN', 'WRONG_SOURCE', 'DATA_LOSS'] as const)(
    'opens a %s incident for a replica even when its source is down: no failover of the source fixes it',
    (to) => {
      const decision = decideIncident(
        transition({ to, role: 'replica' }),
        ctx({ sourceDown: { nodeId: 'r1', status: 'DEAD' } }),
      );
      expect(decision.action).toBe('open');
    },
  );

  it("reopens the old primary's resolved failover incident as SPLIT_BRAIN and hands it to replica-recovery", () => {
    const failover = openIncident({ to: 'DEAD', role: 'primary', from: 'SILENT', nodeId: 'r1' });
    const resolved: Incident = { ...failover, state: 'RESOLVED', resolvedAt: T0 + MINUTE, outbox: {} };
    const decision = updated(
      decideIncident(
        transition({
          to: 'SPLIT_BRAIN',
          from: 'FENCED',
          role: 'primary',
          nodeId: 'r1',
          version: 50,
          at: T0 + 2 * MINUTE,
        }),
        ctx({ latest: resolved }),
      ),
    );
    expect(decision.event).toBe('reopened');
    expect(decision.incident).toMatchObject({
      kind: 'SPLIT_BRAIN',
      severity: 'critical',
      state: 'OPEN',
      runbook: 'replica-recovery',
      outbox: { notifyVersion: 2, runbook: 'replica-recovery' },
    });
  });

  it('hands an open failover incident over to replica-recovery when its node turns SPLIT_BRAIN', () => {
    const failover = openIncident({ to: 'DEAD', role: 'primary', from: 'SILENT', nodeId: 'r1' });
    const decision = updated(
      decideIncident(
        transition({ to: 'SPLIT_BRAIN', from: 'FENCED', role: 'primary', nodeId: 'r1', version: 50 }),
        ctx({ latest: failover }),
      ),
    );
    expect(decision.incident).toMatchObject({ kind: 'SPLIT_BRAIN', runbook: 'replica-recovery' });
    expect(decision.incident.outbox.runbook).toBe('replica-recovery');
  });

  it('resolves a WRONG_SOURCE incident when the replica is HEALTHY again (it follows the recorded primary)', () => {
    const wrong = openIncident({ to: 'WRONG_SOURCE' });
    const decision = updated(
      decideIncident(
        transition({ to: 'HEALTHY', from: 'WRONG_SOURCE', version: 43 }),
        ctx({ latest: wrong }),
      ),
    );
    expect(decision).toMatchObject({ event: 'resolved', incident: { state: 'RESOLVED' } });
  });
});

describe("an operator's request does not outlive the run it was made for", () => {
  const request = { by: 'local:sre', reason: 'host lost', to: 'r3', force: true };
  const failover = (): Incident => ({
    ...openIncident({ to: 'DEAD', role: 'primary', from: 'SILENT', nodeId: 'r1' }),
    request,
  });

  it('a resolved manual failover reopened by its node (SPLIT_BRAIN) carries no request to replica-recovery', () => {
    const resolved: Incident = { ...failover(), state: 'RESOLVED', resolvedAt: T0 + MINUTE, outbox: {} };
    const { incident } = updated(
      decideIncident(
        transition({
          to: 'SPLIT_BRAIN',
          from: 'FENCED',
          role: 'primary',
          nodeId: 'r1',
          version: 50,
          at: T0 + 2 * MINUTE,
        }),
        ctx({ latest: resolved }),
      ),
    );
    expect(incident).toMatchObject({ state: 'OPEN', runbook: 'replica-recovery' });
    expect(incident.request).toBeUndefined();
  });

  it('a resolved manual failover reopened DEAD carries no force or target into the new run', () => {
    const resolved: Incident = { ...failover(), state: 'RESOLVED', resolvedAt: T0 + MINUTE, outbox: {} };
    const { incident } = updated(
      decideIncident(
        transition({
          to: 'DEAD',
          from: 'SILENT',
          role: 'primary',
          nodeId: 'r1',
          version: 50,
          at: T0 + 2 * MINUTE,
        }),
        ctx({ latest: resolved }),
      ),
    );
    expect(incident).toMatchObject({ state: 'OPEN', runbook: 'primary-failover' });
    expect(incident.request).toBeUndefined();
  });

  it('an open manual failover handed to another runbook drops the request; a note on the same run keeps it', () => {
    const handed = updated(
      decideIncident(
        transition({ to: 'SPLIT_BRAIN', from: 'FENCED', role: 'primary', nodeId: 'r1', version: 50 }),
        ctx({ latest: failover() }),
      ),
    ).incident;
    expect(handed.runbook).toBe('replica-recovery');
    expect(handed.request).toBeUndefined();
    const noted = updated(
      decideIncident(
        transition({ to: 'DEAD', from: 'DEAD', role: 'primary', nodeId: 'r1', version: 50 }),
        ctx({ latest: failover() }),
      ),
    ).incident;
    expect(noted.request).toEqual(request);
  });
});
