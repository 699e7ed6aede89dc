import type { KinesisStreamRecord } from 'aws-lambda';
import { mapWithLimit } from '../adapters/concurrency';
import { TransientError } from '../adapters/errors';
import { type InvalidRecord, recordBytes, settleKinesisBatch } from '../adapters/kinesis';
import type { Log } from '../adapters/log';
import type { NodeStateStore } from '../adapters/node-state-store';
import type { Quarantine } from '../adapters/quarantine';
import { InvalidRecordError } from '../core/errors';
import { advanceSourceHead } from '../core/source-head';
import { decodeJson, MAX_CHANGE_EVENT_BYTES, parseChangeEvent, type SourceHeadEvent } from '../core/wire';

export interface ChangeStreamDeps {
  readonly store: Pick<NodeStateStore, 'getSourceHead' | 'putSourceHead'>;
  readonly quarantine: Quarantine;
  readonly logger: Log;
  readonly source?: string;
  /** @default 3 */
  readonly maxConflictRetries?: number;
}

export interface ChangeStreamReport {
  readonly failures: Map<string, Error>;
  readonly records: number;
  /** Source heads moved forward (one write per cluster stream, however many events it had). */
  readonly headsMoved: number;
  readonly quarantined: number;
}

/**
 * Records the head position of each cluster's source from a Kinesis batch of change events (our
 * envelope or Debezium events). Per cluster stream: one read, the head folded forward through the
 * batch, one conditional write. Invalid events are quarantined; store errors are reported for retry.
 */
export async function ingestChangeEvents(
  records: readonly KinesisStreamRecord[],
  deps: ChangeStreamDeps,
  now: number,
): Promise<ChangeStreamReport> {
  const invalid: InvalidRecord[] = [];
  const groups = new Map<string, { index: number; event: SourceHeadEvent }[]>();
  records.forEach((record, index) => {
    try {
      const event = parseChangeEvent(decodeJson(recordBytes(record), MAX_CHANGE_EVENT_BYTES, 'change event'));
      const key = `${event.clusterId}\u0000${event.stream}`;
      groups.set(key, [...(groups.get(key) ?? []), { index, event }]);
    } catch (error) {
      if (!(error instanceof InvalidRecordError)) throw error;
      invalid.push({ index, reason: error.message });
    }
  });

  const failedIndexes = new Map<number, Error>();
  let headsMoved = 0;
  const maxRetries = deps.maxConflictRetries ?? 3;
  await mapWithLimit([...groups.values()], 16, async (items) => {
    const first = items[0];
    if (!first) return;
    const { clusterId, stream } = first.event;
    try {
      for (let attempt = 0; ; attempt++) {
        const prev = await deps.store.getSourceHead(clusterId, stream);
        const next = advanceSourceHead(
          prev,
          items.map((item) => item.event),
        );
        if (!next) return;
        if ((await deps.store.putSourceHead(next)) === 'written') {
          headsMoved++;
          return;
        }
        if (attempt >= maxRetries) {
          throw new TransientError(
            `source head of ${clusterId}/${stream} kept changing under us; retrying later`,
          );
        }
      }
    } catch (error) {
      const reason = error instanceof Error ? error : new TransientError(String(error));
      for (const item of items) failedIndexes.set(item.index, reason);
    }
  });

  const { failures, quarantined } = await settleKinesisBatch(records, invalid, failedIndexes, {
    quarantine: deps.quarantine,
    log: deps.logger,
    source: deps.source ?? 'ingest-change-stream',
    now,
  });
  return { failures, records: records.length, headsMoved, quarantined };
}
