import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/replica-sentinel-heartbeats';

let sequence = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;

/** A record's payload: an object (sent as JSON), a string (sent as is: use it for broken JSON) or bytes. */
export type Payload = object | string | Uint8Array;

/**
 * A Kinesis record exactly as Lambda delivers it: base64 data, eventID `shardId:sequenceNumber`,
 * increasing 56-digit sequence numbers (the shape of test/fixtures/events/kinesis-heartbeats.json).
 */
export function kinesisRecord(payload: Payload, partitionKey?: string): KinesisStreamRecord {
  sequence += 1_000_000_000_000n;
  const bytes =
    payload instanceof Uint8Array
      ? Buffer.from(payload)
      : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const key =
    partitionKey ??
    (typeof payload === 'object' && !(payload instanceof Uint8Array) && 'nodeId' in payload
      ? String((payload as { nodeId: unknown }).nodeId)
      : 'unknown');
  const sequenceNumber = sequence.toString();
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: key,
      sequenceNumber,
      data: bytes.toString('base64'),
      approximateArrivalTimestamp: 1_763_852_401.25,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/replica-sentinel-ingest',
    awsRegion: 'us-east-1',
    eventSourceARN: STREAM_ARN,
  };
}

export function kinesisEvent(records: KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: records };
}

/** The records of a batch from a given sequence number on: what Lambda re-delivers after a partial failure. */
export function redeliveryFrom(
  records: KinesisStreamRecord[],
  sequenceNumber: string,
): KinesisStreamRecord[] {
  const index = records.findIndex((r) => r.kinesis.sequenceNumber === sequenceNumber);
  if (index < 0) throw new Error(`sequence number ${sequenceNumber} is not in the batch`);
  return records.slice(index);
}
