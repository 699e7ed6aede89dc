/**
 * The data at risk if a replica were promoted: how far it is behind every position known to have been
 * written (the failed primary's last report, what the live replicas applied or received), measured in the
 * engine's units, or why that cannot be measured (pure).
 */
import type { NodeState } from './node-state';
import type { Position } from './position';
import {
  comparePositions,
  distanceUnit,
  distanceUnitText,
  positionDistance,
  unmeasurableReason,
} from './position-comparison';
import { parsePosition } from './position-parsing';

/**
 * What would be lost if a node were promoted: how far it is behind the newest data known anywhere (the
 * failed primary's last report, and what every live replica applied or received). Writes the failed
 * primary took after its last report are unknown to the monitor, so these are lower bounds.
 */
export interface DataAtRisk {
  readonly nodeId: string;
  /** PostgreSQL (WAL), Redis (replication stream), MySQL/MariaDB binlog coordinates in one file. */
  readonly bytes?: number;
  /** MySQL/MariaDB GTIDs, counter engines (journal ids, zxids, revisions). */
  readonly transactions?: number;
  /** The node's last reported replication lag, when it reported one. */
  readonly seconds?: number;
  /**
   * False when the distance to some known position cannot be measured (positions not comparable, in
   * different binlog files, under different replication ids, or nothing to compare with); `bytes` and
   * `transactions` are then absent.
   */
  readonly measurable: boolean;
  /** One phrase for the plan and the notification: `1200 bytes of WAL behind pg-1's last known position 0/4B0`. */
  readonly text: string;
}

function parsed(node: NodeState, raw: string | undefined): Position | undefined {
  if (raw === undefined) return undefined;
  try {
    return parsePosition(node.engine, raw);
  } catch {
    return undefined;
  }
}

/** The node's applied position (else its position), parsed; undefined when absent or not parsable. */
export const appliedPosition = (node: NodeState) => parsed(node, node.appliedPosition ?? node.position);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A known position some data reached, and how to name it in a message. */
export interface Reference {
  readonly nodeId: string;
  readonly kind: 'last' | 'applied' | 'received';
  readonly label: string;
  readonly position: Position;
}

/**
 * Everything known to have been written: the failed primary's last reported position, and the applied
 * and received positions of every live replica (a replica that received data proves the primary had it,
 * even when the primary's last report is older).
 */
export function references(
  nodes: readonly NodeState[],
  failedPrimaryId: string,
  isLive: (node: NodeState) => boolean,
): Reference[] {
  const found: Reference[] = [];
  for (const node of nodes) {
    if (node.nodeId === failedPrimaryId) {
      const last = parsed(node, node.position ?? node.appliedPosition);
      if (last)
        found.push({
          nodeId: node.nodeId,
          kind: 'last',
          label: `${node.nodeId}'s last known position`,
          position: last,
        });
      continue;
    }
    if (node.role === 'primary' || !isLive(node)) continue;
    const own = appliedPosition(node);
    if (own)
      found.push({
        nodeId: node.nodeId,
        kind: 'applied',
        label: `${node.nodeId}'s applied position`,
        position: own,
      });
    const received = parsed(node, node.receivedPosition);
    if (received && (!own || comparePositions(received, own) !== 0)) {
      found.push({
        nodeId: node.nodeId,
        kind: 'received',
        label: `${node.nodeId}'s received position`,
        position: received,
      });
    }
  }
  return found;
}

const lagText = (seconds: number | undefined) =>
  seconds === undefined ? '' : `; last reported lag ${seconds}s`;

/** A DataAtRisk without undefined properties (it is stored with the plan). */
function risk(
  node: NodeState,
  measurable: boolean,
  text: string,
  amount?: { readonly bytes?: number; readonly transactions?: number },
): DataAtRisk {
  const result: Mutable<DataAtRisk> = {
    nodeId: node.nodeId,
    measurable,
    text: `${text}${lagText(node.lagSeconds)}`,
  };
  if (amount?.bytes !== undefined) result.bytes = amount.bytes;
  if (amount?.transactions !== undefined) result.transactions = amount.transactions;
  if (node.lagSeconds !== undefined) result.seconds = node.lagSeconds;
  return result;
}

/**
 * The data at risk if `node` were promoted, measured against every reference but its own applied
 * position: the largest distance to any of them, or unmeasurable as soon as one distance is. Its own
 * received position counts for Redis only: PostgreSQL replays the WAL it received before promotion ends
 * and the MySQL/MariaDB promote hook applies the relay log, but REPLICAOF NO ONE drops what a Redis
 * replica read and did not apply (a write-paused replica).
 */
export function dataAtRisk(node: NodeState, refs: readonly Reference[]): DataAtRisk {
  const position = appliedPosition(node);
  if (!position) return risk(node, false, 'reports no applied position');
  const against = refs.filter(
    (ref) => ref.nodeId !== node.nodeId || (node.engine === 'redis' && ref.kind === 'received'),
  );
  if (against.length === 0) {
    return risk(
      node,
      false,
      `no position of the failed primary or of another live replica is known to compare its ${position.raw} with`,
    );
  }
  let worst: { ref: Reference; distance: number } | undefined;
  for (const ref of against) {
    const why = unmeasurableReason(ref.position, position);
    if (why !== undefined) {
      return risk(
        node,
        false,
        `cannot be measured against ${ref.label} ${ref.position.raw} (its own is ${position.raw}): ${why}`,
      );
    }
    const distance = positionDistance(ref.position, position) ?? 0;
    if (!worst || distance > worst.distance) worst = { ref, distance };
  }
  const distance = worst?.distance ?? 0;
  const amount = distanceUnit(position.kind) === 'bytes' ? { bytes: distance } : { transactions: distance };
  const text =
    distance > 0 && worst
      ? `${distance} ${distanceUnitText(position.kind)} behind ${worst.ref.label} ${worst.ref.position.raw}`
      : `none known: no known position is ahead of its ${position.raw}`;
  return risk(node, true, text, amount);
}
