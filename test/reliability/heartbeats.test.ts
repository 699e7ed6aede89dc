import { describe, expect, it } from '@jest/globals';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type {
  DynamoDBBatchResponse,
  DynamoDBRecord,
  KinesisStreamBatchResponse,
  KinesisStreamRecord,
} from 'aws-lambda';
import { documentClient } from '../../functions/adapters/clients';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import { DynamoNodeStateStore } from '../../functions/adapters/node-state-store';
import { TABLE, TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import type { Incident } from '../../functions/core/incidents';
import type { NodeState } from '../../functions/core/node-state';
import { createHandler as createIngest } from '../../functions/ingest-heartbeat/handler';
import { createHandler as createOnTransition } from '../../functions/on-transition/handler';
import { LOCAL_AWS } from '../../local/dynamodb-local';
import { matchesFilter } from '../../local/event-filter';
import { MemoryNotifier } from '../../local/memory-notifier';
import { localEndpoint } from '../support/dynamodb';
import { seededRandom, throttleDynamoDb } from '../support/faults';
import { iso, lsn, T0 } from '../support/heartbeats';
import { kinesisEvent, kinesisRecord, type Payload } from '../support/kinesis';
import { lambdaContext, silentLogger } from '../support/lambda';
import {
  deliverStreamBatch,
  FlakyQuarantine,
  newStats,
  type StreamFailure,
  streamTableFixture,
} from './harness';

// The fleet: 40 clusters of 5 nodes (one primary, four replicas) over five engines, 50 heartbeats each.
const CLUSTERS = 40;
const NODES_PER_CLUSTER = 5;
const ROUNDS = 50;
const INTERVAL_MS = 10_000;
const DUPLICATED = 0.1;
const REORDERED = 0.1;
const MALFORMED = 0.01;
const THROTTLE_RATE = 0.05;
/** Throttling that outlasts the SDK's retries (a hot partition for a while): the handler sees it. */
const PERSISTENT_THROTTLE_RATE = 0.0025;
const QUARANTINE_FAILURE_RATE = 0.1;
/** How far (in records) a duplicate or a reordered record lands after its place: often past a batch end. */
const MAX_DISPLACEMENT = 400;
// The event source mappings as deployed (infra/constructs/ingest.ts and detector.ts).
const INGEST_BATCH = 500;
const INGEST_RETRIES = 5;
const TRANSITION_BATCH = 100;
const TRANSITION_RETRIES = 10;
// The policy the model applies (functions/core/policy.ts defaults, restated here on purpose).
const MAX_LAG_SECONDS = 30;
const HEALTHY_STREAK = 3;

const ENGINE_POSITIONS = {
  postgresql: (n: number) => lsn(n),
  redis: (n: number) => String(n),
  mariadb: (n: number) => `0-1-${n}`,
  mysql: (n: number) => `mysql-bin.000001:${n}`,
  etcd: (n: number) => String(n),
} as const;
type FleetEngine = keyof typeof ENGINE_POSITIONS;
const FLEET_ENGINES = Object.keys(ENGINE_POSITIONS) as FleetEngine[];

interface FleetNode {
  clusterId: string;
  nodeId: string;
  engine: FleetEngine;
  role: 'primary' | 'replica';
  /** Engine-reported lag (seconds) of each heartbeat, by seq (replicas). */
  lag: (seq: number) => number;
  offsetMs: number;
}

/** A valid heartbeat of the fleet, as sent, and what the model needs of it. */
interface Beat {
  node: FleetNode;
  seq: number;
  at: number;
  payload: Record<string, unknown>;
}

interface Malformed {
  kind: string;
  payload: Payload;
  reason: RegExp;
}

type Item = { kind: 'valid'; beat: Beat } | { kind: 'malformed'; bad: Malformed };

const randomInt = (random: () => number, n: number) => Math.floor(random() * n);

function buildFleet(random: () => number): FleetNode[] {
  const fleet: FleetNode[] = [];
  const lagProfiles: ((seq: number) => number)[] = [
    () => 1.5,
    () => 0,
    // One lag episode, then recovery.
    (seq) => (seq >= 12 && seq < 20 ? 45 : 2),
    // Two episodes within the incident cooldown: the incident reopens.
    (seq) => ((seq >= 8 && seq < 12) || (seq >= 30 && seq < 33) ? 50 : 3),
    // Still lagging at the end.
    (seq) => (seq >= 44 ? 60 : 4),
    // Noisy: short spikes that the hysteresis smooths or not.
    (seq) => ((seq * 7919) % 13 === 0 || (seq * 104_729) % 17 === 0 ? 31 : 5),
  ];
  for (let c = 0; c < CLUSTERS; c++) {
    const engine = FLEET_ENGINES[c % FLEET_ENGINES.length] as FleetEngine;
    const clusterId = `${engine}-${String(c).padStart(2, '0')}`;
    for (let n = 1; n <= NODES_PER_CLUSTER; n++) {
      const profile = lagProfiles[randomInt(random, lagProfiles.length)] as (seq: number) => number;
      fleet.push({
        clusterId,
        nodeId: `n${n}`,
        engine,
        role: n === 1 ? 'primary' : 'replica',
        lag: n === 1 ? () => 0 : profile,
        offsetMs: fleet.length * 13,
      });
    }
  }
  return fleet;
}

function heartbeatOf(node: FleetNode, seq: number): Beat {
  const at = T0 + seq * INTERVAL_MS + node.offsetMs;
  const position = ENGINE_POSITIONS[node.engine];
  const head = 1_000_000 + seq * 5000;
  const base = { v: 1, clusterId: node.clusterId, nodeId: node.nodeId, engine: node.engine, seq };
  const payload =
    node.role === 'primary'
      ? { ...base, role: 'primary', observedAt: iso(at), position: position(head) }
      : {
          ...base,
          role: 'replica',
          observedAt: iso(at),
          replication: {
            sourceNodeId: 'n1',
            linkUp: true,
            receivedPosition: position(head - 1000),
            appliedPosition: position(head - 3000),
            lagSeconds: node.lag(seq),
          },
        };
  return { node, seq, at, payload };
}

const ENGINE_MISMATCH = 'engine other than the one recorded for the node';

/** The kinds of bad input, each with the reason the quarantine must give. */
function malformedOf(index: number, beat: Beat, random: () => number): Malformed {
  const hb = beat.payload;
  const kinds: (() => Malformed)[] = [
    () => ({
      kind: 'truncated JSON',
      payload: JSON.stringify(hb).slice(0, 20 + randomInt(random, 60)),
      reason: /^heartbeat is not valid JSON/,
    }),
    () => ({ kind: 'seq as a string', payload: { ...hb, seq: String(beat.seq) }, reason: /seq: / }),
    () => ({ kind: 'reachable as a string', payload: { ...hb, reachable: 'yes' }, reason: /reachable: / }),
    () => ({
      kind: 'unknown engine',
      payload: { ...hb, engine: 'oracle' },
      reason: /engine: must be one of/,
    }),
    () => ({
      kind: 'oversized',
      payload: { ...hb, note: 'x'.repeat(17 * 1024) },
      reason: /^heartbeat is \d+ bytes; at most 16384 are accepted$/,
    }),
    () => ({
      kind: 'cluster id with a key separator',
      payload: { ...hb, clusterId: `${beat.node.clusterId}#2` },
      reason: /clusterId: must be 1-128 characters/,
    }),
    () => ({
      kind: 'cluster id with a space',
      payload: { ...hb, clusterId: 'orders pg' },
      reason: /clusterId: must be 1-128 characters/,
    }),
    () => ({ kind: 'empty cluster id', payload: { ...hb, clusterId: '' }, reason: /clusterId: / }),
    () => ({ kind: 'numeric cluster id', payload: { ...hb, clusterId: 42 }, reason: /clusterId: / }),
    () => ({
      kind: 'cluster id of 200 characters',
      payload: { ...hb, clusterId: 'c'.repeat(200) },
      reason: /clusterId: must be 1-128 characters/,
    }),
    () => {
      const { nodeId: _n, ...rest } = hb;
      return { kind: 'missing node id', payload: rest, reason: /nodeId: / };
    },
    () => ({ kind: 'an array', payload: '[1,2,3]', reason: /must be a JSON object, not an array/ }),
    () => ({
      kind: 'position in another engine format',
      payload: { ...hb, engine: 'postgresql', position: 'mysql-bin.000001:5', replication: undefined },
      reason: /position: /,
    }),
    () => {
      // Valid on the wire (a redis offset is a valid etcd revision), but the node is recorded as redis.
      // Its seq is above any the node sent: a lower one would be taken as already seen.
      const redis = `${FLEET_ENGINES.indexOf('redis')}`.padStart(2, '0');
      return {
        kind: ENGINE_MISMATCH,
        payload: {
          ...heartbeatOf({ ...beat.node, clusterId: `redis-${redis}`, engine: 'redis' }, 1).payload,
          engine: 'etcd',
          seq: 1_000_000 + index,
        },
        reason: /^engine: 'etcd' differs from 'redis' recorded for node redis-/,
      };
    },
    () => ({
      kind: 'binary garbage',
      payload: Uint8Array.from({ length: 64 }, () => randomInt(random, 256)),
      reason: /^heartbeat (is not valid JSON|must be a JSON object)/,
    }),
  ];
  return (kinds[index % kinds.length] as () => Malformed)();
}

/** Moves `count` randomly chosen entries forward by 1..MAX_DISPLACEMENT places (or copies them there). */
function displace<T>(items: T[], count: number, random: () => number, copy: boolean): void {
  for (let i = 0; i < count; i++) {
    const from = randomInt(random, items.length);
    const item = items[from] as T;
    const to = Math.min(items.length, from + 1 + randomInt(random, MAX_DISPLACEMENT));
    if (copy) items.splice(to, 0, item);
    else {
      items.splice(from, 1);
      items.splice(to - 1, 0, item);
    }
  }
}

// ---- The ground truth: a small model of the documented rules, not the product's fold -------------------

interface Expected {
  seq: number;
  at: number;
  status: 'HEALTHY' | 'LAGGING';
  statusSince: number;
  healthyStreak: number;
  beat: Beat;
  /** Status changes, one per write (a batch's heartbeats of a node make one write). */
  transitions: { from?: string; to: string }[];
}

/**
 * The rules, restated: a heartbeat whose seq is not above the node's last applied one changes nothing;
 * within a batch a node's heartbeats apply in seq order and make one write; a replica reporting lag above
 * maxLagSeconds is LAGGING at once and needs healthyStreak good heartbeats in a row to be HEALTHY again;
 * a replica that always advances is never STALLED; a primary that reports is HEALTHY.
 */
function groundTruth(items: readonly Item[], batchSize: number): Map<string, Expected> {
  const truth = new Map<string, Expected>();
  for (let start = 0; start < items.length; start += batchSize) {
    const byNode = new Map<string, Beat[]>();
    for (const item of items.slice(start, start + batchSize)) {
      if (item.kind !== 'valid') continue;
      const key = `${item.beat.node.clusterId}/${item.beat.node.nodeId}`;
      byNode.set(key, [...(byNode.get(key) ?? []), item.beat]);
    }
    for (const [key, beats] of byNode) {
      const before = truth.get(key);
      let state = before ? { ...before } : undefined;
      for (const beat of [...beats].sort((a, b) => a.seq - b.seq)) {
        if (state && beat.seq <= state.seq) continue;
        const good = beat.node.role === 'primary' || beat.node.lag(beat.seq) <= MAX_LAG_SECONDS;
        const streak = good ? (state?.healthyStreak ?? 0) + 1 : 0;
        const status: Expected['status'] = !good
          ? 'LAGGING'
          : state?.status === 'LAGGING' && streak < HEALTHY_STREAK
            ? 'LAGGING'
            : 'HEALTHY';
        state = {
          seq: beat.seq,
          at: beat.at,
          status,
          statusSince: state && state.status === status ? state.statusSince : beat.at,
          healthyStreak: streak,
          beat,
          transitions: state?.transitions ?? [],
        };
      }
      if (!state) continue;
      if (!before || before.status !== state.status) {
        state.transitions = [
          ...state.transitions,
          { ...(before ? { from: before.status } : {}), to: state.status },
        ];
      }
      truth.set(key, state);
    }
  }
  return truth;
}

/** Timeline events the transitions must leave on the node's one incident (all within the cooldown). */
function expectedTimeline(transitions: Expected['transitions']): string[] {
  const events: string[] = [];
  let state: 'NONE' | 'OPEN' | 'RESOLVED' = 'NONE';
  for (const t of transitions) {
    if (t.to === 'LAGGING') {
      events.push(state === 'NONE' ? 'opened' : 'reopened');
      state = 'OPEN';
    } else if (state === 'OPEN') {
      events.push('resolved');
      state = 'RESOLVED';
    }
  }
  return events;
}

// ---- The run ------------------------------------------------------------------------------------------

describe('10,000 heartbeats with duplicates, reordering, malformed records and DynamoDB throttling', () => {
  const fixture = streamTableFixture('heartbeats');
  const random = seededRandom(20261124);

  it('ends with the table equal to the ground truth, every bad record quarantined with its reason and one incident per node', async () => {
    const { table, poller } = fixture;
    // Prepare: the fleet's heartbeats round by round, then duplicates, reordering and bad records.
    const fleet = buildFleet(random);
    const items: Item[] = [];
    for (let seq = 1; seq <= ROUNDS; seq++) {
      const round = fleet.map((node) => heartbeatOf(node, seq));
      for (let i = round.length - 1; i > 0; i--) {
        const j = randomInt(random, i + 1);
        [round[i], round[j]] = [round[j] as Beat, round[i] as Beat];
      }
      items.push(...round.map((beat): Item => ({ kind: 'valid', beat })));
    }
    const validCount = items.length;
    displace(items, Math.round(validCount * DUPLICATED), random, true);
    displace(items, Math.round(validCount * REORDERED), random, false);
    const malformed: Malformed[] = [];
    for (let i = 0; i < Math.round(validCount * MALFORMED); i++) {
      const beat = heartbeatOf(
        fleet[randomInt(random, fleet.length)] as FleetNode,
        1 + randomInt(random, ROUNDS),
      );
      const bad = malformedOf(i, beat, random);
      malformed.push(bad);
      // A record that contradicts a node's recorded engine can only be told once the node is known:
      // those go in the second half, long after every node's first heartbeat was applied.
      const half = Math.floor(items.length / 2);
      const at =
        bad.kind === ENGINE_MISMATCH ? half + randomInt(random, half) : randomInt(random, items.length + 1);
      items.splice(at, 0, { kind: 'malformed', bad });
    }
    const records: KinesisStreamRecord[] = items.map((item) =>
      item.kind === 'valid'
        ? kinesisRecord(item.beat.payload, item.beat.node.nodeId)
        : kinesisRecord(item.bad.payload, 'bad'),
    );
    const badBySequence = new Map<string, Malformed>();
    items.forEach((item, i) => {
      if (item.kind === 'malformed')
        badBySequence.set((records[i] as KinesisStreamRecord).kinesis.sequenceNumber, item.bad);
    });
    const truth = groundTruth(items, INGEST_BATCH);

    // The functions on a client of their own. 5% of its calls are throttled below the SDK's retries (the
    // SDK's standard retry decides, as in AWS; only its backoff sleeps are cut to keep the run short), and
    // a few throttles outlast those retries and reach the handler, which must report them for redelivery.
    // The quarantine queue fails part of a send now and then.
    const client = documentClient({
      ...LOCAL_AWS,
      endpoint: localEndpoint(),
      retryStrategy: new ConfiguredRetryStrategy(3, () => 0),
    });
    const throttles = throttleDynamoDb(client, {
      rate: THROTTLE_RATE,
      random: seededRandom(7),
      layer: 'sdk',
    });
    const persistent = throttleDynamoDb(client, { rate: PERSISTENT_THROTTLE_RATE, random: seededRandom(9) });
    const quarantine = new FlakyQuarantine(QUARANTINE_FAILURE_RATE, seededRandom(11));
    const store = new DynamoNodeStateStore(client, table.tableName);
    const end = T0 + (ROUNDS + 1) * INTERVAL_MS + fleet.length * 13;
    const ingest = createIngest(
      { store, quarantine, sweepShards: TABLE.sweepShards },
      { logger: silentLogger(), clock: () => end },
    );
    const notifier = new MemoryNotifier();
    const runbooks: string[] = [];
    const onTransition = createOnTransition(
      {
        incidents: new DynamoIncidentStore(client, table.tableName),
        nodes: store,
        notifier,
        runbooks: {
          start: async (incident) => {
            runbooks.push(incident.incidentId);
            return { note: 'recorded' };
          },
        },
      },
      { logger: silentLogger() },
    );

    // Act: Kinesis batches to ingest, and after each batch the table stream (filtered) to on-transition.
    const ingestFailures: StreamFailure<KinesisStreamRecord>[] = [];
    const transitionFailures: StreamFailure<DynamoDBRecord>[] = [];
    const ingestStats = newStats();
    const transitionStats = newStats();
    const streamRecords: DynamoDBRecord[] = [];
    for (let start = 0; start < records.length; start += INGEST_BATCH) {
      await deliverStreamBatch(
        records.slice(start, start + INGEST_BATCH),
        (batch) =>
          ingest(
            kinesisEvent(batch),
            lambdaContext('ingest-heartbeat'),
          ) as Promise<KinesisStreamBatchResponse>,
        {
          idOf: (r) => r.kinesis.sequenceNumber,
          retryAttempts: INGEST_RETRIES,
          bisect: true,
          failures: ingestFailures,
        },
        ingestStats,
      );
      const polled = (await poller.poll()).filter((r) => matchesFilter(TRANSITION_FILTER_PATTERN, r));
      streamRecords.push(...polled);
      for (let i = 0; i < polled.length; i += TRANSITION_BATCH) {
        await deliverStreamBatch(
          polled.slice(i, i + TRANSITION_BATCH),
          (batch) =>
            onTransition(
              { Records: batch },
              lambdaContext('on-transition'),
            ) as Promise<DynamoDBBatchResponse>,
          {
            idOf: (r) => r.dynamodb?.SequenceNumber ?? '',
            retryAttempts: TRANSITION_RETRIES,
            bisect: true,
            failures: transitionFailures,
          },
          transitionStats,
        );
      }
    }

    // Assess: nothing went to the on-failure destinations; the table is the ground truth.
    expect(ingestFailures.map((f) => f.reason)).toEqual([]);
    expect(transitionFailures.map((f) => f.reason)).toEqual([]);

    const nodes = new Map<string, NodeState>();
    const incidents = new Map<string, Incident[]>();
    for (const clusterId of new Set(fleet.map((n) => n.clusterId))) {
      for (const item of await table.clusterItems(clusterId)) {
        const sk = String(item.SK);
        if (sk.startsWith('NODE#')) nodes.set(`${clusterId}/${item.nodeId}`, item as unknown as NodeState);
        if (sk.startsWith('INCIDENT#')) {
          const key = `${clusterId}/${item.nodeId}`;
          incidents.set(key, [...(incidents.get(key) ?? []), item as unknown as Incident]);
        }
      }
    }
    const actual = [...nodes.entries()].map(([key, n]) => ({
      key,
      seq: n.seq,
      lastHeartbeatAt: n.lastHeartbeatAt,
      status: n.status,
      statusSince: n.statusSince,
      healthyStreak: n.healthyStreak,
      position: n.position,
      appliedPosition: n.appliedPosition,
      receivedPosition: n.receivedPosition,
      lagSeconds: n.lagSeconds,
    }));
    const expected = [...truth.entries()].map(([key, t]) => {
      const replication = t.beat.payload.replication as Record<string, unknown> | undefined;
      return {
        key,
        seq: t.seq,
        lastHeartbeatAt: t.at,
        status: t.status,
        statusSince: t.statusSince,
        healthyStreak: t.healthyStreak,
        position: t.beat.payload.position,
        appliedPosition: replication?.appliedPosition,
        receivedPosition: replication?.receivedPosition,
        lagSeconds: replication?.lagSeconds,
      };
    });
    const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
    expect(actual.sort(byKey)).toEqual(expected.sort(byKey));
    expect(nodes.size).toBe(CLUSTERS * NODES_PER_CLUSTER);

    // No valid heartbeat lost: each node's last heartbeat is the one applied; none was quarantined.
    const lost = fleet.filter((n) => nodes.get(`${n.clusterId}/${n.nodeId}`)?.seq !== ROUNDS).length;
    const quarantinedIds = new Set(quarantine.records.map((r) => r.sequenceNumber));
    const validQuarantined = [...quarantinedIds].filter((id) => !badBySequence.has(id));
    expect(lost).toBe(0);
    expect(validQuarantined).toEqual([]);

    // Every malformed record is in the quarantine (at least once) with the reason of its kind.
    const reasons = new Map(quarantine.records.map((r) => [r.sequenceNumber, r.reason]));
    const caught = [...badBySequence].filter(([id, bad]) => bad.reason.test(reasons.get(id) ?? ''));
    const missed = [...badBySequence]
      .filter(([id, bad]) => !bad.reason.test(reasons.get(id) ?? ''))
      .map(([id, bad]) => ({ kind: bad.kind, reason: reasons.get(id) ?? '(not quarantined)', id }));
    expect(missed).toEqual([]);

    // Incidents: exactly one per node that ever lagged, with one timeline entry per transition.
    const incidentShape = [...truth.entries()]
      .map(([key, t]) => ({ key, timeline: expectedTimeline(t.transitions) }))
      .filter((e) => e.timeline.length > 0);
    const actualShape = [...incidents.entries()].flatMap(([key, list]) =>
      list.map((i) => ({ key, timeline: i.timeline.map((e) => e.event) })),
    );
    expect(actualShape.sort(byKey)).toEqual(incidentShape.sort(byKey));
    const duplicatedIncidents = [...incidents.values()].reduce((n, list) => n + list.length - 1, 0);
    const duplicatedEntries =
      actualShape.reduce((n, i) => n + i.timeline.length, 0) -
      incidentShape.reduce((n, i) => n + i.timeline.length, 0);
    // Every incident revision was announced (duplicates allowed: subscribers deduplicate by id).
    const announced = new Set(notifier.published.map((n) => n.id));
    for (const list of incidents.values()) {
      for (const incident of list) {
        for (let revision = 1; revision <= incident.revision; revision++) {
          expect(announced).toContain(`${incident.incidentId}#${revision}`);
        }
        expect(incident.outbox).toEqual({});
      }
    }
    expect(runbooks).toEqual([]);
    expect(streamRecords.length).toBeGreaterThan(CLUSTERS * NODES_PER_CLUSTER);
    expect(throttles.total()).toBeGreaterThan(0);
    expect(persistent.total()).toBeGreaterThan(0);
    expect(ingestStats.partialFailures).toBeGreaterThan(0);

    Object.assign(fixture.figures, {
      records: records.length,
      lost: lost + validQuarantined.length,
      duplicatedEffects: duplicatedIncidents + Math.max(0, duplicatedEntries),
      malformed: badBySequence.size,
      malformedCaught: caught.length,
      throttlesSurvived: throttles.total() + persistent.total() + quarantine.failures,
    });
    process.stderr.write(
      `heartbeats: ${records.length} records (${validCount} heartbeats, ${badBySequence.size} malformed), ` +
        `${throttles.total()} DynamoDB throttles retried by the SDK (${[...throttles.injected].map(([c, n]) => `${c} ${n}`).join(', ')}), ` +
        `${persistent.total()} that reached the handlers, ` +
        `${quarantine.failures} quarantine failures; ingest ${ingestStats.invocations} invocations ` +
        `(${ingestStats.partialFailures} partial, ${ingestStats.thrown} thrown, at most ${ingestStats.maxInvocationsPerBatch} for one batch); ` +
        `on-transition ${transitionStats.invocations} invocations for ${streamRecords.length} transitions ` +
        `(at most ${transitionStats.maxInvocationsPerBatch} for one batch); ${notifier.published.length} notifications for ` +
        `${announced.size} incident revisions\n`,
    );
  });
});
