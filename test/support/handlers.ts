/**
 * The real Lambda handlers wired to a test table, as the integration tests call them: ingest-heartbeat
 * (quarantining into memory) and on-transition (notifying and starting runbooks as the test says).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { DynamoIncidentStore } from '../../functions/adapters/incident-store';
import type { Metrics } from '../../functions/adapters/metrics';
import { TABLE } from '../../functions/adapters/table-definition';
import { createHandler as createIngest } from '../../functions/ingest-heartbeat/handler';
import { createHandler as createOnTransition } from '../../functions/on-transition/handler';
import type { TransitionDeps } from '../../functions/on-transition/transition';
import { MemoryQuarantine } from '../../local/memory-quarantine';
import type { TestTable } from './dynamodb';

/** The real ingest-heartbeat handler on the test table's store, with the table's sweep shards. */
export function ingestOn(
  table: Pick<TestTable, 'store'>,
  options: { logger: Logger; clock?: () => number; metrics?: Metrics },
  quarantine: MemoryQuarantine = new MemoryQuarantine(),
) {
  return createIngest({ store: table.store, quarantine, sweepShards: TABLE.sweepShards }, options);
}

/** The real on-transition handler on the test table, notifying and starting runbooks through `deps`. */
export function onTransitionOn(
  table: TestTable,
  deps: Pick<TransitionDeps, 'notifier' | 'runbooks'>,
  logger: Logger,
) {
  return createOnTransition(
    {
      incidents: new DynamoIncidentStore(table.client, table.tableName),
      nodes: table.store,
      notifier: deps.notifier,
      runbooks: deps.runbooks,
    },
    { logger },
  );
}
