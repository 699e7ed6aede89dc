/**
 * Replication positions: the one abstraction the detection rules use to compare how far nodes are.
 *
 * A position travels as a string on the wire (docs/DESIGN.md §3a) and is parsed per engine into an opaque,
 * ordered value. Positions of one engine are only partially ordered: two GTID sets, two Redis offsets
 * under different replication ids or a GTID set and a binlog coordinate may not be comparable, and the
 * comparison functions say so with `undefined` instead of guessing.
 *
 * Persist `raw` (the wire string) and parse again when reading; the parsed form holds `bigint`s and
 * `Map`s that do not survive JSON.
 *
 * This module holds the model (engines, kinds, the parsed forms); position-parsing.ts turns wire strings
 * into positions, position-comparison.ts orders them and measures the distance between them.
 */

export type Engine =
  | 'postgresql'
  | 'mysql'
  | 'mariadb'
  | 'redis'
  | 'doris'
  | 'starrocks'
  | 'zookeeper'
  | 'etcd'
  | 'generic';

export const ENGINES: readonly Engine[] = Object.freeze([
  'postgresql',
  'mysql',
  'mariadb',
  'redis',
  'doris',
  'starrocks',
  'zookeeper',
  'etcd',
  'generic',
]);

/** True when `value` names a supported engine. */
export function isEngine(value: unknown): value is Engine {
  return typeof value === 'string' && (ENGINES as readonly string[]).includes(value);
}

export type PositionKind = 'lsn' | 'mysql-gtid' | 'mariadb-gtid' | 'binlog' | 'redis' | 'counter';

/** A closed interval `[start, end]` of MySQL transaction numbers (GNOs). */
export type GnoInterval = readonly [start: bigint, end: bigint];
/** MySQL transaction numbers are signed 64-bit and start at 1. */
export const MAX_GNO = (1n << 63n) - 1n;

/** The parsed form of a position, one variant per kind. Treat as opaque outside the position modules. */
export type PositionValue =
  /** PostgreSQL LSN as a byte offset into the WAL: `(X << 32) + Y`. */
  | { readonly kind: 'lsn'; readonly lsn: bigint }
  /**
   * MySQL GTID set: per source (`uuid` in lower case, or `uuid:tag` for MySQL 8.4 tagged GTIDs),
   * sorted, disjoint, non-adjacent intervals.
   */
  | { readonly kind: 'mysql-gtid'; readonly sets: ReadonlyMap<string, readonly GnoInterval[]> }
  /** MariaDB GTID position: per replication domain, the last GTID applied. */
  | { readonly kind: 'mariadb-gtid'; readonly domains: ReadonlyMap<number, MariadbGtid> }
  /** Binlog coordinate `base.NNNNNN:offset` (MySQL or MariaDB). */
  | {
      readonly kind: 'binlog';
      readonly file: string;
      readonly base: string;
      readonly sequence: bigint;
      readonly offset: bigint;
    }
  /** Redis replication offset, with the replication id when the probe sent one. */
  | { readonly kind: 'redis'; readonly replid: string | undefined; readonly offset: bigint }
  /** Monotonic counter: Doris/StarRocks journal id, ZooKeeper zxid, etcd revision, Kafka offset. */
  | { readonly kind: 'counter'; readonly value: bigint };

export interface MariadbGtid {
  readonly domain: number;
  readonly server: number;
  readonly seq: bigint;
}

/**
 * A parsed replication position. Build one with parsePosition (position-parsing.ts); compare with
 * comparePositions (position-comparison.ts).
 */
export interface Position {
  readonly kind: PositionKind;
  /** The wire string, exactly as received. */
  readonly raw: string;
  /** Positions of different engines are never comparable. */
  readonly engine: Engine;
  readonly value: PositionValue;
}
