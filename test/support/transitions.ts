/**
 * The test table's stream as on-transition sees it: a table whose stream is polled from its start, and the
 * records on-transition's event filter lets through.
 */
import { afterAll, beforeAll } from '@jest/globals';
import type { DynamoDBRecord } from 'aws-lambda';
import { TRANSITION_FILTER_PATTERN } from '../../functions/adapters/table-definition';
import { matchesFilter } from '../../local/event-filter';
import { StreamPoller } from '../../local/stream-poller';
import { createTestTable, localEndpoint, type TestTable, tableOfTheMoment } from './dynamodb';
import { standIn } from './stand-in';

export interface StreamedTable {
  /** The table of the moment (see useTestTable). */
  readonly table: TestTable;
  /** Its stream's poller: everything written since the last poll. */
  readonly poller: Pick<StreamPoller, 'poll'>;
}

/**
 * For a describe block: a fresh test table with its stream polled from the start (TRIM_HORIZON), made
 * before its tests and dropped after them. Read the returned table and poller in tests and hooks.
 */
export function useStreamedTable(prefix: string): StreamedTable {
  let table: TestTable | undefined;
  let poller: StreamPoller | undefined;
  beforeAll(async () => {
    table = await createTestTable(prefix);
    poller = new StreamPoller(localEndpoint(), table.tableName);
    await poller.start('TRIM_HORIZON');
  });
  afterAll(async () => {
    poller?.close();
    await table?.drop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error(`the ${prefix} test table and its poller start in beforeAll`);
    return value;
  };
  return {
    table: tableOfTheMoment(() => started(table)),
    poller: standIn(() => started(poller), ['poll']),
  };
}

/** Polls the stream and keeps the records on-transition's event filter lets through (status changes). */
export async function transitionRecords(poller: Pick<StreamPoller, 'poll'>): Promise<DynamoDBRecord[]> {
  return (await poller.poll()).filter((r) => matchesFilter(TRANSITION_FILTER_PATTERN, r));
}
