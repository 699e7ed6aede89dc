import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBRecord } from 'aws-lambda';
import { LOCAL_AWS } from './dynamodb-local';

/**
 * Reads a table's stream through the DynamoDB Streams API (as Lambda's event source mapping does in AWS)
 * and hands the records, in order and in the Lambda event shape, to the caller.
 */
export class StreamPoller {
  private readonly streams: DynamoDBStreamsClient;
  private readonly iterators = new Map<string, string | undefined>();
  private streamArn: string | undefined;

  constructor(
    private readonly endpoint: string,
    private readonly tableName: string,
  ) {
    this.streams = new DynamoDBStreamsClient({ ...LOCAL_AWS, endpoint });
  }

  /** Starts at the stream's beginning (TRIM_HORIZON) or at its end (LATEST: only what is written next). */
  async start(from: 'TRIM_HORIZON' | 'LATEST' = 'TRIM_HORIZON'): Promise<void> {
    const ddb = new DynamoDBClient({ ...LOCAL_AWS, endpoint: this.endpoint });
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: this.tableName }));
    ddb.destroy();
    this.streamArn = Table?.LatestStreamArn;
    if (!this.streamArn) throw new Error(`table ${this.tableName} has no stream`);
    await this.refreshShards(from);
  }

  private async refreshShards(from: 'TRIM_HORIZON' | 'LATEST'): Promise<void> {
    const { StreamDescription } = await this.streams.send(
      new DescribeStreamCommand({ StreamArn: this.streamArn }),
    );
    for (const shard of StreamDescription?.Shards ?? []) {
      if (!shard.ShardId || this.iterators.has(shard.ShardId)) continue;
      const { ShardIterator } = await this.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: from,
        }),
      );
      this.iterators.set(shard.ShardId, ShardIterator);
    }
  }

  /** Everything written since the last poll, as Lambda DynamoDBRecords. */
  async poll(): Promise<DynamoDBRecord[]> {
    if (!this.streamArn) throw new Error('call start() first');
    await this.refreshShards('TRIM_HORIZON');
    const out: DynamoDBRecord[] = [];
    for (const [shardId, iterator] of this.iterators) {
      let next = iterator;
      while (next) {
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: next, Limit: 1000 }));
        out.push(...(page.Records ?? []).map(toLambdaRecord));
        next = page.NextShardIterator;
        if ((page.Records ?? []).length === 0) break;
      }
      this.iterators.set(shardId, next);
    }
    return out;
  }

  close(): void {
    this.streams.destroy();
  }
}

function toLambdaRecord(record: _Record): DynamoDBRecord {
  return JSON.parse(JSON.stringify(record)) as DynamoDBRecord;
}
