import {
  QueueDoesNotExist,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { TransientError } from '../../functions/adapters/errors';
import { settleKinesisBatch } from '../../functions/adapters/kinesis';
import { silentLog } from '../../functions/adapters/log';
import {
  MAX_QUARANTINED_DATA,
  type QuarantinedRecord,
  SqsQuarantine,
} from '../../functions/adapters/quarantine';
import { kinesisRecord } from '../support/kinesis';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/replica-sentinel-quarantine';
/** SendMessageBatch: the sum of the batch's message sizes may not exceed this (SQS API reference). */
const SQS_BATCH_PAYLOAD_LIMIT = 262_144;
/** The characters SQS accepts in a message body; any other is rejected (SQS API reference, SendMessage). */
const SQS_ALLOWED_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const INTERNAL_ERROR = 'We encountered an internal error. Please try again.';

function quarantined(i: number, overrides: Partial<QuarantinedRecord> = {}): QuarantinedRecord {
  const sequenceNumber = `4965739458756193847205596134507209341674290693853283${String(i).padStart(4, '0')}`;
  return {
    reason: `invalid heartbeat: seq: Invalid input: expected number, received string (record ${i})`,
    source: 'ingest-heartbeat',
    eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/replica-sentinel-heartbeats',
    eventId: `shardId-000000000000:${sequenceNumber}`,
    sequenceNumber,
    partitionKey: `pg-${i}`,
    approximateArrivalTimestamp: 1_795_388_401.164,
    data: Buffer.from(`{"v":1,"nodeId":"pg-${i}","seq":"${i}"}`).toString('base64'),
    dataBytes: 30,
    dataTruncated: false,
    quarantinedAt: '2026-11-22T23:00:05.000Z',
    ...overrides,
  };
}

const records = (count: number) => Array.from({ length: count }, (_, i) => quarantined(i));

/** What SQS answers when every entry of a batch was sent. */
function allSent(entries: readonly SendMessageBatchRequestEntry[] = []): SendMessageBatchCommandOutput {
  return {
    $metadata: { httpStatusCode: 200 },
    Successful: entries.map((entry, i) => ({
      Id: entry.Id ?? String(i),
      MessageId: `5fea7756-0ea4-451a-a703-a558b933e2${String(i).padStart(2, '0')}`,
      MD5OfMessageBody: 'fafb00f5732ab283681e124bf8747ed1',
    })),
    Failed: [],
  };
}

function entriesOf(call: number): SendMessageBatchRequestEntry[] {
  return sqsMock.commandCalls(SendMessageBatchCommand)[call]?.args[0].input.Entries ?? [];
}

const sqs = new SQSClient({ region: 'us-east-1' });
const sqsMock = mockClient(sqs);

describe('SqsQuarantine', () => {
  beforeEach(() => {
    sqsMock.reset();
    sqsMock
      .on(SendMessageBatchCommand)
      .callsFake((input: { Entries?: SendMessageBatchRequestEntry[] }) => allSent(input.Entries));
  });

  afterAll(() => {
    sqsMock.restore();
  });

  it('sends 23 records as batches of 10, 10 and 3, in order', async () => {
    // Prepare
    const quarantine = new SqsQuarantine(sqs, QUEUE_URL);
    const sent = records(23);

    // Act
    const failure = await quarantine.send(sent);

    // Assess
    expect(failure).toBeUndefined();
    const calls = sqsMock.commandCalls(SendMessageBatchCommand);
    expect(calls.map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(calls.map((call) => call.args[0].input.QueueUrl)).toEqual([QUEUE_URL, QUEUE_URL, QUEUE_URL]);
    const bodies = [0, 1, 2].flatMap((call) => entriesOf(call).map((entry) => entry.MessageBody));
    expect(bodies).toEqual(sent.map((record) => JSON.stringify(record)));
  });

  it('ids the entries of each batch 0 to 9 and tags each message with the eventId and source', async () => {
    const quarantine = new SqsQuarantine(sqs, QUEUE_URL);
    const sent = records(13);

    await quarantine.send(sent);

    expect(entriesOf(1)).toEqual([
      {
        Id: '0',
        MessageBody: JSON.stringify(sent[10]),
        MessageAttributes: {
          eventId: { DataType: 'String', StringValue: sent[10]?.eventId },
          source: { DataType: 'String', StringValue: 'ingest-heartbeat' },
        },
      },
      expect.objectContaining({ Id: '1', MessageBody: JSON.stringify(sent[11]) }),
      expect.objectContaining({ Id: '2', MessageBody: JSON.stringify(sent[12]) }),
    ]);
    expect(entriesOf(0).map((entry) => entry.Id)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('keeps the record exactly: the body parses back to it', async () => {
    const record = quarantined(0, { data: 'AAEC/w==', dataBytes: 4 });

    await new SqsQuarantine(sqs, QUEUE_URL).send([record]);

    expect(JSON.parse(entriesOf(0)[0]?.MessageBody ?? 'null')).toEqual(record);
  });

  it('sends nothing for an empty list', async () => {
    const failure = await new SqsQuarantine(sqs, QUEUE_URL).send([]);

    expect(failure).toBeUndefined();
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it('returns the overall index of an entry SQS failed in the second batch and sends no third batch', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce(allSent(Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: '' }))))
      .resolvesOnce({
        Successful: [0, 1, 2, 4, 5, 6, 7, 8, 9].map((i) => ({
          Id: String(i),
          MessageId: `id-${i}`,
          MD5OfMessageBody: 'fafb00f5732ab283681e124bf8747ed1',
        })),
        Failed: [{ Id: '3', SenderFault: false, Code: 'InternalError', Message: INTERNAL_ERROR }],
      });

    const failure = await new SqsQuarantine(sqs, QUEUE_URL).send(records(23));

    expect(failure).toEqual({ index: 13, cause: `InternalError: ${INTERNAL_ERROR}` });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
  });

  it('returns the first failed entry when SQS lists several out of order', async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [
        { Id: '7', SenderFault: false, Code: 'InternalError', Message: INTERNAL_ERROR },
        { Id: '2', SenderFault: false, Code: 'ServiceUnavailable' },
      ],
    });

    const failure = await new SqsQuarantine(sqs, QUEUE_URL).send(records(10));

    expect(failure).toEqual({ index: 2, cause: 'ServiceUnavailable: ' });
  });

  it('returns index 0 with the error name and message when the first call throws', async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .rejects(new QueueDoesNotExist({ message: 'The specified queue does not exist.', $metadata: {} }));

    const failure = await new SqsQuarantine(sqs, QUEUE_URL).send(records(23));

    expect(failure).toEqual({ index: 0, cause: 'QueueDoesNotExist: The specified queue does not exist.' });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  it('returns the first index of the batch whose call threw', async () => {
    sqsMock.on(SendMessageBatchCommand).resolvesOnce(allSent()).rejectsOnce(new Error('socket hang up'));

    const failure = await new SqsQuarantine(sqs, QUEUE_URL).send(records(23));

    expect(failure).toEqual({ index: 10, cause: 'Error: socket hang up' });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
  });

  // Each record may carry up to MAX_QUARANTINED_DATA (200,000) characters of data, yet records are
  // chunked by count only: 10 large ones make one ~2 MB request that SQS rejects (BatchRequestTooLong)
  // every time, so the record stays a "transient" failure and the shard never moves past it.
  it('keeps every SendMessageBatch request within the SQS batch payload limit', async () => {
    const large = Array.from({ length: 10 }, (_, i) =>
      quarantined(i, { data: 'e'.repeat(MAX_QUARANTINED_DATA), dataBytes: 1_048_576, dataTruncated: true }),
    );

    const failure = await new SqsQuarantine(sqs, QUEUE_URL).send(large);

    expect(failure).toBeUndefined();
    const payloads = sqsMock.commandCalls(SendMessageBatchCommand).map((call) =>
      (call.args[0].input.Entries ?? []).reduce((total, entry) => {
        const attributes = Object.entries(entry.MessageAttributes ?? {}).reduce(
          (sum, [name, value]) =>
            sum +
            Buffer.byteLength(name) +
            Buffer.byteLength(value.DataType ?? '') +
            Buffer.byteLength(value.StringValue ?? ''),
          0,
        );
        return total + Buffer.byteLength(entry.MessageBody ?? '') + attributes;
      }, 0),
    );
    expect(payloads.reduce((a, b) => a + b, 0)).toBeGreaterThan(2_000_000);
    for (const payload of payloads) expect(payload).toBeLessThanOrEqual(SQS_BATCH_PAYLOAD_LIMIT);
  });

  // The reason quotes the offending input (V8's JSON.parse message, position values), and
  // JSON.stringify leaves U+FFFE / U+FFFF as they are: SQS rejects such a body, on every retry.
  it('sends only characters SQS accepts, even when the reason quotes a U+FFFE from the record', async () => {
    const record = quarantined(0, {
      reason: `heartbeat is not valid JSON: Unexpected token '\uFFFE', "\uFFFE{" is not valid JSON`,
    });

    await new SqsQuarantine(sqs, QUEUE_URL).send([record]);

    const body = entriesOf(0)[0]?.MessageBody ?? '';
    expect(body).toMatch(SQS_ALLOWED_BODY);
    expect(JSON.parse(body)).toMatchObject({ eventId: record.eventId, data: record.data });
  });

  it('makes the record SQS failed a reported failure of the Kinesis batch, and quarantines no further', async () => {
    const kinesis = Array.from({ length: 30 }, (_, i) => kinesisRecord({ nodeId: `pg-${i}`, seq: `${i}` }));
    const invalid = Array.from({ length: 23 }, (_, i) => ({ index: i, reason: `bad record ${i}` }));
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce(allSent())
      .resolvesOnce({
        Successful: [],
        Failed: [{ Id: '3', SenderFault: false, Code: 'InternalError', Message: INTERNAL_ERROR }],
      });

    const settlement = await settleKinesisBatch(kinesis, invalid, new Map(), {
      quarantine: new SqsQuarantine(sqs, QUEUE_URL),
      log: silentLog,
      source: 'ingest-heartbeat',
      now: Date.UTC(2026, 10, 22, 23, 0, 5),
    });

    expect(settlement.quarantined).toBe(13);
    expect([...settlement.failures.entries()]).toEqual([
      [
        kinesis[13]?.kinesis.sequenceNumber,
        new TransientError(`quarantine unavailable: InternalError: ${INTERNAL_ERROR}`),
      ],
    ]);
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
  });
});
