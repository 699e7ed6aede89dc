/**
 * Comparing replication positions: their (partial) order, the distance between two positions in the
 * engine's units, and why a distance cannot be measured.
 */
import { type GnoInterval, MAX_GNO, type MariadbGtid, type Position, type PositionKind } from './position';

/**
 * Orders two positions: -1 when `a` is behind `b`, 0 when they are at the same point, 1 when `a` is ahead.
 *
 * Returns `undefined` when the two are not comparable, and the caller must not read that as "equal":
 * - different engines or different kinds (a MySQL GTID set and a binlog coordinate);
 * - MySQL GTID sets where neither contains the other (sets compare by containment, so equal sets
 *   written in different order or interval splits are equal);
 * - MariaDB GTID positions where each is ahead in some domain (domains compare by seq_no only, the
 *   server_id is ignored because it changes after a failover; a domain missing on one side counts as
 *   behind);
 * - binlog coordinates with different base names (`mysql-bin` and `db2-bin` number their files
 *   independently);
 * - Redis offsets under different replication ids (a promoted replica starts a new id).
 *   A bare Redis offset carries no id and is compared by offset with any other Redis position: a probe
 *   that cannot read the id still gets an ordering, at the risk of comparing across a promotion.
 */
export function comparePositions(a: Position, b: Position): -1 | 0 | 1 | undefined {
  if (a.engine !== b.engine) return undefined;
  const x = a.value;
  const y = b.value;
  switch (x.kind) {
    case 'lsn':
      return y.kind === 'lsn' ? sign(x.lsn - y.lsn) : undefined;
    case 'counter':
      return y.kind === 'counter' ? sign(x.value - y.value) : undefined;
    case 'redis':
      if (y.kind !== 'redis') return undefined;
      if (x.replid !== undefined && y.replid !== undefined && x.replid !== y.replid) return undefined;
      return sign(x.offset - y.offset);
    case 'binlog':
      if (y.kind !== 'binlog' || x.base !== y.base) return undefined;
      return x.sequence !== y.sequence ? sign(x.sequence - y.sequence) : sign(x.offset - y.offset);
    case 'mysql-gtid': {
      if (y.kind !== 'mysql-gtid') return undefined;
      const xContainsY = gtidSetContains(x.sets, y.sets);
      const yContainsX = gtidSetContains(y.sets, x.sets);
      if (xContainsY && yContainsX) return 0;
      if (xContainsY) return 1;
      if (yContainsX) return -1;
      return undefined;
    }
    case 'mariadb-gtid': {
      if (y.kind !== 'mariadb-gtid') return undefined;
      const xAhead = mariadbAheadSomewhere(x.domains, y.domains);
      const yAhead = mariadbAheadSomewhere(y.domains, x.domains);
      if (xAhead && yAhead) return undefined;
      if (xAhead) return 1;
      if (yAhead) return -1;
      return 0;
    }
  }
}

/**
 * How far `ahead` is beyond `behind`, in the engine's units: bytes of WAL for an LSN, transactions for
 * GTIDs (MySQL: transactions in `ahead` and not in `behind`; MariaDB: sum of seq_no differences over the
 * domains of `ahead`, a domain unknown to `behind` counting from 0), bytes for binlog coordinates in the
 * same file, offset units for Redis and counters.
 *
 * Returns 0 when `ahead` is not ahead (equal or behind), and `undefined` when the two are not comparable
 * (see {@link comparePositions}) or the distance is not measurable (binlog coordinates in different
 * files). Distances above 2^53 lose precision in the conversion to `number`.
 */
export function positionDistance(ahead: Position, behind: Position): number | undefined {
  const order = comparePositions(ahead, behind);
  if (order === undefined) return undefined;
  if (order <= 0) return 0;
  const x = ahead.value;
  const y = behind.value;
  switch (x.kind) {
    case 'lsn':
      return y.kind === 'lsn' ? Number(x.lsn - y.lsn) : undefined;
    case 'counter':
      return y.kind === 'counter' ? Number(x.value - y.value) : undefined;
    case 'redis':
      return y.kind === 'redis' ? Number(x.offset - y.offset) : undefined;
    case 'binlog':
      return y.kind === 'binlog' && x.sequence === y.sequence ? Number(x.offset - y.offset) : undefined;
    case 'mysql-gtid':
      // ahead contains behind here, so |ahead \ behind| = |ahead| - |behind|.
      return y.kind === 'mysql-gtid' ? Number(gtidSetSize(x.sets) - gtidSetSize(y.sets)) : undefined;
    case 'mariadb-gtid': {
      if (y.kind !== 'mariadb-gtid') return undefined;
      let total = 0n;
      for (const [domain, gtid] of x.domains) total += gtid.seq - (y.domains.get(domain)?.seq ?? 0n);
      return Number(total);
    }
  }
}

/** What a distance between two positions of a kind counts (see {@link positionDistance}). */
export type DistanceUnit = 'bytes' | 'transactions';

/**
 * The unit of {@link positionDistance} for positions of `kind`: bytes for a PostgreSQL LSN (WAL), a Redis
 * offset (replication stream) and a binlog coordinate in one file; transactions for MySQL and MariaDB
 * GTIDs and for counters (journal ids, zxids and revisions count one per committed change).
 */
export function distanceUnit(kind: PositionKind): DistanceUnit {
  return kind === 'lsn' || kind === 'redis' || kind === 'binlog' ? 'bytes' : 'transactions';
}

/** The unit of a position's distances as a reader says it: `bytes of WAL`, `transactions`... */
export function distanceUnitText(kind: PositionKind): string {
  switch (kind) {
    case 'lsn':
      return 'bytes of WAL';
    case 'redis':
      return 'bytes of replication stream';
    case 'binlog':
      return 'bytes of binlog';
    case 'mysql-gtid':
    case 'mariadb-gtid':
      return 'transactions (GTID)';
    case 'counter':
      return 'transactions';
  }
}

/**
 * Why {@link positionDistance} cannot say how far `ahead` is beyond `behind`, in a phrase for an
 * operator ("they are in different binlog files ..."), or `undefined` when it can.
 */
export function unmeasurableReason(ahead: Position, behind: Position): string | undefined {
  if (positionDistance(ahead, behind) !== undefined) return undefined;
  const x = ahead.value;
  const y = behind.value;
  if (ahead.engine !== behind.engine)
    return `they belong to different engines (${ahead.engine}, ${behind.engine})`;
  if (x.kind !== y.kind) return `a ${describeKind(x.kind)} cannot be compared with a ${describeKind(y.kind)}`;
  if (x.kind === 'redis' && y.kind === 'redis') {
    return `they are under different replication ids (${x.replid?.slice(0, 8)}..., ${y.replid?.slice(0, 8)}...)`;
  }
  if (x.kind === 'binlog' && y.kind === 'binlog') {
    return x.base !== y.base
      ? `their binlogs have different names (${x.base}, ${y.base})`
      : `they are in different binlog files (${x.file}, ${y.file}): the bytes between them are unknown`;
  }
  if (x.kind === 'mysql-gtid') return 'each GTID set holds transactions the other lacks';
  if (x.kind === 'mariadb-gtid') return 'each GTID position is ahead in some replication domain';
  return 'they cannot be compared';
}

function describeKind(kind: PositionKind): string {
  switch (kind) {
    case 'lsn':
      return 'WAL LSN';
    case 'mysql-gtid':
    case 'mariadb-gtid':
      return 'GTID position';
    case 'binlog':
      return 'binlog coordinate';
    case 'redis':
      return 'replication offset';
    case 'counter':
      return 'counter';
  }
}

/**
 * The greatest of the positions, skipping `undefined` entries.
 *
 * Scans left to right and replaces the current maximum only with a position strictly ahead of it, so
 * when two positions are not comparable the first one seen is kept (the result then depends on order).
 *
 * @returns `undefined` when there is no position.
 */
export function maxPosition(positions: ReadonlyArray<Position | undefined>): Position | undefined {
  let best: Position | undefined;
  for (const position of positions) {
    if (position === undefined) continue;
    if (best === undefined || comparePositions(position, best) === 1) best = position;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------
// Comparison helpers.

export function sign(difference: bigint): -1 | 0 | 1 {
  if (difference < 0n) return -1;
  return difference > 0n ? 1 : 0;
}

/** True when every transaction of `inner` is in `outer`. Both hold merged, sorted intervals. */
function gtidSetContains(
  outer: ReadonlyMap<string, readonly GnoInterval[]>,
  inner: ReadonlyMap<string, readonly GnoInterval[]>,
): boolean {
  for (const [key, innerIntervals] of inner) {
    const outerIntervals = outer.get(key) ?? [];
    let i = 0;
    for (const [start, end] of innerIntervals) {
      while ((outerIntervals[i]?.[1] ?? MAX_GNO) < start) i += 1;
      const covering = outerIntervals[i];
      if (covering === undefined || covering[0] > start || covering[1] < end) return false;
    }
  }
  return true;
}

function gtidSetSize(sets: ReadonlyMap<string, readonly GnoInterval[]>): bigint {
  let size = 0n;
  for (const intervals of sets.values()) for (const [start, end] of intervals) size += end - start + 1n;
  return size;
}

/** True when `a` is ahead of `b` in at least one domain (a domain missing from `b` counts as ahead). */
function mariadbAheadSomewhere(
  a: ReadonlyMap<number, MariadbGtid>,
  b: ReadonlyMap<number, MariadbGtid>,
): boolean {
  for (const [domain, gtid] of a) {
    const other = b.get(domain);
    if (other === undefined || gtid.seq > other.seq) return true;
  }
  return false;
}
