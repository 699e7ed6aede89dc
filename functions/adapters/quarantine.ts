import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** A record that can never be processed, with everything needed to find and replay it. */
export interface QuarantinedRecord {
  /** Why it was rejected: names the field or the problem. */
  reason: string;
  /** Which function rejected it. */
  source: string;
  eventSourceARN?: string;
  /** Kinesis `eventID` (`shardId:sequenceNumber`): consumers can deduplicate on it. */
  eventId: string;
  sequenceNumber: string;
  partitionKey?: string;
  approximateArrivalTimestamp?: number;
  /** The record's data exactly as received (base64), truncated past MAX_QUARANTINED_DATA characters. */
  data: string;
  dataBytes: number;
  dataTruncated: boolean;
  quarantinedAt: string;
}

/** Keeps a quarantine message well under the SQS message size limit. */
export const MAX_QUARANTINED_DATA = 200_000;

export interface QuarantineFailure {
  index: number;
  cause: string;
}

export interface Quarantine {
  /**
   * Sends records in order. Resolves with the index of the first record that could not be sent
   * and why (every record before it was sent), or undefined when all were sent.
   */
  send(records: readonly QuarantinedRecord[]): Promise<QuarantineFailure | undefined>;
}

export function truncateData(
  base64: string,
): Pick<QuarantinedRecord, 'data' | 'dataBytes' | 'dataTruncated'> {
  const dataBytes = Buffer.byteLength(base64, 'base64');
  return base64.length > MAX_QUARANTINED_DATA
    ? { data: base64.slice(0, MAX_QUARANTINED_DATA), dataBytes, dataTruncated: true }
    : { data: base64, dataBytes, dataTruncated: false };
}

/** The quarantine SQS queue. */
export class SqsQuarantine implements Quarantine {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(records: readonly QuarantinedRecord[]): Promise<QuarantineFailure | undefined> {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      try {
        const result = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((record, i) => ({
              Id: String(i),
              MessageBody: JSON.stringify(record),
              MessageAttributes: {
                eventId: { DataType: 'String', StringValue: record.eventId },
                source: { DataType: 'String', StringValue: record.source },
              },
            })),
          }),
        );
        const failed = (result.Failed ?? [])
          .map((entry) => ({ index: Number(entry.Id), cause: `${entry.Code}: ${entry.Message ?? ''}` }))
          .filter((entry) => Number.isInteger(entry.index))
          .sort((a, b) => a.index - b.index)[0];
        if (failed) return { index: start + failed.index, cause: failed.cause };
      } catch (error) {
        return {
          index: start,
          cause: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        };
      }
    }
    return undefined;
  }
}
