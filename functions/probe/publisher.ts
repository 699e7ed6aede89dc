/**
 * Puts heartbeats on the heartbeats Kinesis stream (docs/DESIGN.md §3a: one JSON object per record, partition
 * key = nodeId) with PutRecords, resending only the records Kinesis did not take.
 */
import type { HeartbeatInput } from '../core/wire';

/** Kinesis takes at most 500 records in one PutRecords call. */
export const PUT_RECORDS_LIMIT = 500;

/** The part of the SDK v3 Kinesis client the publisher calls (`new Kinesis({})` has it). */
export interface PutRecordsApi {
  putRecords(input: { StreamARN: string; Records: { PartitionKey: string; Data: Uint8Array }[] }): Promise<{
    FailedRecordCount?: number;
    Records?: { SequenceNumber?: string; ErrorCode?: string; ErrorMessage?: string }[];
  }>;
}

export interface PublisherOptions {
  /** Calls after the first for records Kinesis refused (throttling, internal errors). @default 3 */
  readonly retries?: number;
  /** Wait before retry n (1-based). @default 100 ms × 2^(n-1) */
  readonly backoffMs?: (retry: number) => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Some heartbeats were still refused after every retry. */
export class HeartbeatDeliveryError extends Error {
  override readonly name = 'HeartbeatDeliveryError';
  constructor(
    readonly failed: number,
    readonly total: number,
    readonly errorCodes: readonly string[],
  ) {
    super(
      `${failed} of ${total} heartbeats were refused by the heartbeats stream after every retry ` +
        `(${errorCodes.join(', ') || 'no error code'}): ProvisionedThroughputExceededException means ` +
        'the stream is throttled (on-demand streams adapt within minutes), KMS errors that the function may ' +
        "not use the stream's key",
    );
  }
}

export type HeartbeatPublisher = (heartbeats: readonly HeartbeatInput[]) => Promise<{ attempts: number }>;

/**
 * A publisher over PutRecords: chunks of {@link PUT_RECORDS_LIMIT}, the refused records of a chunk sent
 * again (in order) with exponential backoff. A call that throws (network, access denied) is not retried
 * here: the SDK already retried it.
 *
 * @throws {@link HeartbeatDeliveryError} when records are still refused after the last retry.
 */
export function kinesisPublisher(
  api: PutRecordsApi,
  streamArn: string,
  options: PublisherOptions = {},
): HeartbeatPublisher {
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? ((n: number) => 100 * 2 ** (n - 1));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (heartbeats) => {
    let attempts = 0;
    for (let start = 0; start < heartbeats.length; start += PUT_RECORDS_LIMIT) {
      let pending = heartbeats.slice(start, start + PUT_RECORDS_LIMIT).map((heartbeat) => ({
        PartitionKey: heartbeat.nodeId,
        Data: Buffer.from(JSON.stringify(heartbeat)),
      }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(backoff(attempt));
        attempts++;
        const output = await api.putRecords({ StreamARN: streamArn, Records: pending });
        if ((output.FailedRecordCount ?? 0) === 0) break;
        const results = output.Records ?? [];
        // Without per-record results there is no telling which were taken: send them all again.
        const refused =
          results.length === pending.length
            ? pending.filter((_, i) => results[i]?.ErrorCode !== undefined)
            : pending;
        if (attempt === retries) {
          const codes = [
            ...new Set(results.flatMap((r) => (r.ErrorCode === undefined ? [] : [r.ErrorCode]))),
          ];
          throw new HeartbeatDeliveryError(refused.length, heartbeats.length, codes);
        }
        pending = refused;
      }
    }
    return { attempts };
  };
}
