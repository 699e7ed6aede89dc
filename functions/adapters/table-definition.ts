/**
 * The node-state table, described once. The CDK StateStore construct and the DynamoDB Local
 * harness (tests, local mode) both build the table from this object, so they cannot drift.
 *
 * Single-table design (docs/DESIGN.md §3):
 * - cluster       PK `CLUSTER#<clusterId>`  SK `META`
 * - node          PK `CLUSTER#<clusterId>`  SK `NODE#<nodeId>`
 * - incident      PK `CLUSTER#<clusterId>`  SK `INCIDENT#<startedAt>#<id>`
 * - source head   PK `CLUSTER#<clusterId>`  SK `SOURCE#<stream>`
 *
 * Node items also carry `sweepShard` and `deadlineAt`, which key the sparse `sweep` GSI: a silence
 * sweep queries each shard for `deadlineAt <= now` and so reads only overdue nodes.
 */
export const TABLE = {
  partitionKey: 'PK',
  sortKey: 'SK',
  /** TTL attribute (epoch seconds); used for items that may expire, never for node items. */
  timeToLiveAttribute: 'expiresAt',
  sweepIndex: {
    name: 'sweep',
    partitionKey: 'sweepShard',
    sortKey: 'deadlineAt',
    /** Attributes the sweep needs to decide and to write conditionally, without reading the item. */
    nonKeyAttributes: ['clusterId', 'nodeId', 'role', 'status', 'seq', 'lastHeartbeatAt'],
  },
  /** Number of sweep shards; a node's shard is a stable hash of its cluster and node id. */
  sweepShards: 16,
} as const;

export const keys = {
  clusterPk: (clusterId: string): string => `CLUSTER#${clusterId}`,
  clusterMetaSk: 'META',
  nodeSk: (nodeId: string): string => `NODE#${nodeId}`,
  sourceSk: (stream: string): string => `SOURCE#${stream}`,
  incidentSk: (startedAtIso: string, incidentId: string): string => `INCIDENT#${startedAtIso}#${incidentId}`,
  /** One epoch of the cluster (the `history` log), zero-padded so the items sort by epoch. */
  epochSk: (epoch: number): string => `EPOCH#${String(epoch).padStart(10, '0')}`,
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
export const idempotencyPartitionKey = (scope: string): string => `IDEMPOTENCY#${scope}`;

/** The idempotency scope of notify-slack: one record per notification id. */
export const NOTIFY_SLACK_IDEMPOTENCY_SCOPE = 'notify-slack';
