import type { SQSClient } from '@aws-sdk/client-sqs';
import { type ClientSource, clientOf } from './clients';

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

/** Keeps a quarantine message well under the SQS message size limit (256 KiB). */
export const MAX_QUARANTINED_DATA = 200_000;
/** SendMessageBatch accepts at most 10 entries and 256 KiB in all; leave room for attributes. */
const MAX_BATCH_ENTRIES = 10;
const MAX_BATCH_BYTES = 240 * 1024;

/**
 * JSON that SQS accepts: SQS rejects characters outside #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
 * #x10000-#x10FFFF (a reason can quote such bytes from a broken record), so those are written as
 * JSON escapes. The result still parses to the same value.
 */
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the allowed ranges are control characters by definition
    /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}

/** Splits bodies into SendMessageBatch-sized chunks (by count and by bytes), keeping the order. */
export function chunkBodies(bodies: readonly string[]): { start: number; bodies: string[] }[] {
  const chunks: { start: number; bodies: string[] }[] = [];
  let current: { start: number; bodies: string[]; bytes: number } | undefined;
  bodies.forEach((body, index) => {
    const bytes = Buffer.byteLength(body, 'utf8') + 512;
    if (!current || current.bodies.length >= MAX_BATCH_ENTRIES || current.bytes + bytes > MAX_BATCH_BYTES) {
      current = { start: index, bodies: [], bytes: 0 };
      chunks.push(current);
    }
    current.bodies.push(body);
    current.bytes += bytes;
  });
  return chunks.map(({ start, bodies: chunk }) => ({ start, bodies: chunk }));
}

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

/** The quarantine SQS queue (the SQS package is loaded on the first record sent: clients.ts). */
export class SqsQuarantine implements Quarantine {
  constructor(
    private readonly client: ClientSource<SQSClient>,
    private readonly queueUrl: string,
  ) {}

  async send(records: readonly QuarantinedRecord[]): Promise<QuarantineFailure | undefined> {
    for (const { start, bodies } of chunkBodies(records.map(sqsSafeJson))) {
      try {
        const [client, { SendMessageBatchCommand }] = await Promise.all([
          clientOf(this.client),
          import('@aws-sdk/client-sqs'),
        ]);
        const result = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: bodies.map((body, i) => ({
              Id: String(i),
              MessageBody: body,
              MessageAttributes: {
                eventId: { DataType: 'String', StringValue: records[start + i]?.eventId ?? 'unknown' },
                source: { DataType: 'String', StringValue: records[start + i]?.source ?? 'unknown' },
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
