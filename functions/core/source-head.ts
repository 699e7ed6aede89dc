import type { Engine } from './position';
import { comparePositions } from './position-comparison';
import { parsePosition } from './position-parsing';
import type { SourceHeadEvent } from './wire';

/** The latest committed position seen on one change stream of a cluster (a SOURCE# item). */
export interface SourceHead {
  clusterId: string;
  stream: string;
  engine: Engine;
  position: string;
  committedAt: number;
  /** Optimistic-locking version; every write increments it. */
  version: number;
}

/**
 * Moves a source head forward through a batch of change events of the same cluster and stream.
 * The head only moves forward: an event at or behind the head (a duplicate, a re-delivery, an older
 * event delivered late) changes nothing. When two positions cannot be compared (a new Redis replication
 * id, GTIDs replacing binlog coordinates) the one committed later wins.
 *
 * @returns the new head, or undefined when the batch did not move it.
 */
export function advanceSourceHead(
  prev: SourceHead | undefined,
  events: readonly SourceHeadEvent[],
): SourceHead | undefined {
  let head = prev;
  let moved = false;
  for (const event of events) {
    if (head && head.engine === event.engine) {
      const order = comparePositions(
        parsePosition(event.engine, event.position),
        parsePosition(head.engine, head.position),
      );
      const ahead = order === undefined ? event.committedAtMs > head.committedAt : order > 0;
      if (!ahead) continue;
    } else if (head && event.committedAtMs <= head.committedAt) {
      continue;
    }
    head = {
      clusterId: event.clusterId,
      stream: event.stream,
      engine: event.engine,
      position: event.position,
      committedAt: event.committedAtMs,
      version: prev?.version ?? 0,
    };
    moved = true;
  }
  return moved && head ? { ...head, version: (prev?.version ?? 0) + 1 } : undefined;
}
