import { SWEEP_BUCKET_MS } from '../core/sweep-key';

/**
 * The node-state table, described once. The CDK StateStore construct and the DynamoDB Local
 * harness (tests, local mode) both build the table from this object, so they cannot drift.
 *
 * Single-table design (docs/DESIGN.md §3):
 * - cluster       PK `CLUSTER#<clusterId>`  SK `META`
 * - node          PK `CLUSTER#<clusterId>`  SK `NODE#<nodeId>`
 * - incident      PK `CLUSTER#<clusterId>`  SK `INCIDENT#<startedAt>#<id>`
 * - source head   PK `CLUSTER#<clusterId>`  SK `SOURCE#<stream>`
 * - latest        PK `CLUSTER#<clusterId>`  SK `LATEST#<nodeId>` (points at the node's latest incident)
 * - epoch         PK `CLUSTER#<clusterId>`  SK `EPOCH#<epoch, 10 digits>`
 *
 * Node items also carry `sweepShard` and `sweepAt` (the start of the coarse bucket their deadline falls in,
 * functions/core/sweep-key.ts), which key the sparse `sweep` GSI: a silence sweep queries each shard for
 * `sweepAt <= now` and checks the exact `deadlineAt` of what it finds on the node items. A heartbeat moves
 * `deadlineAt` but not `sweepAt` (until the deadline crosses a bucket), and nothing the index projects,
 * so DynamoDB does not write the index entry: the heartbeat costs the node item's write alone.
 */
export const TABLE = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** TTL attribute (epoch seconds); used for items that may expire, never for node items. */
  timeToLiveAttribute: 'expiresAt',
  sweepIndex: {
    name: 'sweep-bucket',
    partitionKey: 'sweepShard',
    sortKey: 'sweepAt',
    /**
     * Only attributes that change rarely (a status change), never with a heartbeat: the node's ids for the
     * sweep, its status for the fleet census.
     */
    nonKeyAttributes: ['clusterId', 'nodeId', 'status'],
  },
  /** Number of sweep shards; a node's shard is a stable hash of its cluster and node id. */
  sweepShards: 16,
  /** Width of a `sweepAt` bucket: a reporting node's index entry moves once per bucket (a day). */
  sweepBucketMs: SWEEP_BUCKET_MS,
} as const;

/**
 * The first part of each kind of key: what a Query's `begins_with` matches, and what tells the kind of an
 * item read (a node, a source head...).
 */
const PREFIX = {
  cluster: 'CLUSTER#',
  node: 'NODE#',
  source: 'SOURCE#',
  incident: 'INCIDENT#',
  epoch: 'EPOCH#',
  latest: 'LATEST#',
  idempotency: 'IDEMPOTENCY#',
} as const;

/** Every key of the table's items is built (and parsed) here. */
export const keys = {
  clusterPk: (clusterId: string): string => `${PREFIX.cluster}${clusterId}`,
  /** The cluster of a partition key; undefined for a partition that is no cluster's (idempotency records). */
  clusterIdOfPk: (pk: string): string | undefined =>
    pk.startsWith(PREFIX.cluster) ? pk.slice(PREFIX.cluster.length) : undefined,
  clusterMetaSk: 'META',
  nodePrefix: PREFIX.node,
  nodeSk: (nodeId: string): string => `${PREFIX.node}${nodeId}`,
  sourcePrefix: PREFIX.source,
  sourceSk: (stream: string): string => `${PREFIX.source}${stream}`,
  incidentPrefix: PREFIX.incident,
  incidentSk: (startedAtIso: string, incidentId: string): string =>
    `${PREFIX.incident}${startedAtIso}#${incidentId}`,
  /** The sort key of an incident item, from the incident's opening time (epoch ms) and id. */
  incidentSkOf: (incident: { readonly openedAt: number; readonly incidentId: string }): string =>
    keys.incidentSk(new Date(incident.openedAt).toISOString(), incident.incidentId),
  /** The node's latest incident is found through this pointer item (sorts before META: loadCluster skips it). */
  latestSk: (nodeId: string): string => `${PREFIX.latest}${nodeId}`,
  epochPrefix: PREFIX.epoch,
  /** One epoch of the cluster (the `history` log), zero-padded so the items sort by epoch. */
  epochSk: (epoch: number): string => `${PREFIX.epoch}${String(epoch).padStart(10, '0')}`,
};

/**
 * The CreateTable input for DynamoDB Local and tests; the CDK construct maps the same fields onto
 * TableV2 (on-demand billing, KMS, PITR and the stream are added there).
 */
export function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [
      { AttributeName: TABLE.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE.sortKey, AttributeType: 'S' as const },
      { AttributeName: TABLE.sweepIndex.partitionKey, AttributeType: 'S' as const },
      { AttributeName: TABLE.sweepIndex.sortKey, AttributeType: 'N' as const },
    ],
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: TABLE.sweepIndex.name,
        KeySchema: [
          { AttributeName: TABLE.sweepIndex.partitionKey, KeyType: 'HASH' as const },
          { AttributeName: TABLE.sweepIndex.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: {
          ProjectionType: 'INCLUDE' as const,
          NonKeyAttributes: [...TABLE.sweepIndex.nonKeyAttributes],
        },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' as const },
  };
}

/**
 * The event filter of on-transition's table-stream mapping: only writes that changed a node's status
 * (they carry `transitionTo`; see NodeState). Used by the CDK event source mapping and, through
 * local/event-filter.ts, by local mode's stream poller: one pattern for both.
 */
export const TRANSITION_FILTER_PATTERN = {
  eventName: ['INSERT', 'MODIFY'],
  dynamodb: { NewImage: { type: { S: ['node'] }, transitionTo: { S: [{ exists: true }] } } },
} as const;

/** Partition of the Powertools idempotency records of one scope (see adapters/once.ts). */
export const idempotencyPartitionKey = (scope: string): string => `${PREFIX.idempotency}${scope}`;

/** The idempotency scope of notify-slack: one record per notification id. */
export const NOTIFY_SLACK_IDEMPOTENCY_SCOPE = 'notify-slack';
