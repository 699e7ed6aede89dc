/**
 * The pages of a DynamoDB Query or Scan: the one place that follows `LastEvaluatedKey`. Pages are read one
 * request at a time, as the caller's loop asks for them, so a caller that has what it needs stops reading
 * by leaving its loop (no request is made for the next page).
 */
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  ScanCommand,
  type ScanCommandInput,
  type ScanCommandOutput,
} from '@aws-sdk/lib-dynamodb';

type StartKey = Record<string, unknown> | undefined;

async function* follow<Page extends { LastEvaluatedKey?: Record<string, unknown> }>(
  read: (startKey: StartKey) => Promise<Page>,
): AsyncGenerator<Page, void, undefined> {
  let startKey: StartKey;
  do {
    const page = await read(startKey);
    yield page;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/** The pages of a Query, from the first to the last (or until the caller stops). */
export function queryPages(
  client: DynamoDBDocumentClient,
  input: Omit<QueryCommandInput, 'ExclusiveStartKey'>,
): AsyncGenerator<QueryCommandOutput, void, undefined> {
  return follow((startKey) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey })));
}

/** The pages of a Scan, from the first to the last (or until the caller stops). */
export function scanPages(
  client: DynamoDBDocumentClient,
  input: Omit<ScanCommandInput, 'ExclusiveStartKey'>,
): AsyncGenerator<ScanCommandOutput, void, undefined> {
  return follow((startKey) => client.send(new ScanCommand({ ...input, ExclusiveStartKey: startKey })));
}

/** Every item of every page, in order. */
export async function allItems(
  pages: AsyncIterable<{ Items?: Record<string, unknown>[] }>,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for await (const page of pages) items.push(...(page.Items ?? []));
  return items;
}
