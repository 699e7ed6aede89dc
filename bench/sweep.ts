/**
 * Sweep benchmark: what one silence sweep reads, for fleets of 1k, 10k and 100k nodes with 10 overdue,
 * the indexed sweep (sparse GSI keyed by shard and the deadline's day bucket, exact deadlines read per
 * cluster) beside a naive sweeper that Scans the table for overdue nodes; both must find exactly the overdue
 * ones. Counts come from DynamoDB's own answers (ScannedCount, ConsumedCapacity), not timings.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { documentClient } from '../functions/adapters/clients';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import { scanPages } from '../functions/adapters/paginate';
import { TABLE } from '../functions/adapters/table-definition';
import { sweepOnce } from '../functions/sweep/sweep';
import { createNodeStateTable, LOCAL_AWS, startDynamoDbLocal } from '../local/dynamodb-local';
import { fleet, putItems } from '../local/fleet';
import type { BenchRow } from './table';

const NOW = Date.parse('2026-11-22T23:00:00Z');
const NODES_PER_CLUSTER = 4;
const OVERDUE = 10;

/** A client that asks DynamoDB for consumed capacity on every read and adds it up. */
function meteredClient(endpoint: string) {
  const client = documentClient({ ...LOCAL_AWS, endpoint });
  const meter = { items: 0, capacity: 0, requests: 0 };
  client.middlewareStack.add(
    (next, ctx) => async (args) => {
      const reading = /^(Query|Scan|GetItem|BatchGetItem)Command$/.test(String(ctx.commandName));
      if (reading) Object.assign(args.input as object, { ReturnConsumedCapacity: 'TOTAL' });
      const result = await next(args);
      if (reading) {
        const out = result.output as {
          ScannedCount?: number;
          Count?: number;
          Item?: unknown;
          ConsumedCapacity?: { CapacityUnits?: number };
        };
        meter.requests++;
        meter.items += out.ScannedCount ?? out.Count ?? (out.Item ? 1 : 0);
        meter.capacity += out.ConsumedCapacity?.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'meter' },
  );
  return { client, meter };
}

/** The naive baseline: Scan the whole table for node items past their deadline. */
async function naiveSweep(
  client: ReturnType<typeof documentClient>,
  tableName: string,
  now: number,
): Promise<number> {
  let found = 0;
  const pages = scanPages(client, {
    TableName: tableName,
    FilterExpression: '#type = :node AND #deadline <= :now',
    ExpressionAttributeNames: { '#type': 'type', '#deadline': 'deadlineAt' },
    ExpressionAttributeValues: { ':node': 'node', ':now': now },
  });
  for await (const page of pages) found += page.Count ?? 0;
  return found;
}

export async function benchSweep(): Promise<BenchRow[]> {
  const ddb = await startDynamoDbLocal();
  const rows: BenchRow[] = [];
  try {
    for (const nodes of [1_000, 10_000, 100_000]) {
      const clusters = nodes / NODES_PER_CLUSTER;
      const late = Array.from({ length: OVERDUE }, (_, i) => Math.floor((i * clusters) / OVERDUE) + 1);
      const tableName = `bench-sweep-${nodes}`;
      await createNodeStateTable(ddb.endpoint, tableName);
      const loader = documentClient({ ...LOCAL_AWS, endpoint: ddb.endpoint });
      await putItems(loader, tableName, fleet(clusters, NODES_PER_CLUSTER, NOW, late));
      loader.destroy();

      const naive = meteredClient(ddb.endpoint);
      const naiveFound = await naiveSweep(naive.client, tableName, NOW);
      naive.client.destroy();

      const ours = meteredClient(ddb.endpoint);
      const store = new DynamoNodeStateStore(ours.client, tableName);
      const report = await sweepOnce(
        { index: store, store, logger: new Logger({ logLevel: 'SILENT' }), shards: TABLE.sweepShards },
        NOW,
      );
      ours.client.destroy();
      if (report.marked !== OVERDUE || naiveFound !== OVERDUE) {
        throw new Error(
          `expected ${OVERDUE} overdue: indexed marked ${report.marked}, naive found ${naiveFound}`,
        );
      }
      const scenario = `${nodes.toLocaleString('en-US')} nodes, ${OVERDUE} overdue`;
      rows.push(
        {
          benchmark: 'sweep',
          scenario,
          metric: 'items read/sweep',
          ours: ours.meter.items,
          baseline: naive.meter.items,
          better: 'lower',
        },
        {
          benchmark: 'sweep',
          scenario,
          metric: 'read capacity units/sweep',
          ours: ours.meter.capacity,
          baseline: naive.meter.capacity,
          better: 'lower',
        },
        {
          benchmark: 'sweep',
          scenario,
          metric: 'read requests/sweep',
          ours: ours.meter.requests,
          baseline: naive.meter.requests,
          better: 'lower',
        },
      );
    }
  } finally {
    await ddb.stop();
  }
  return rows;
}
