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

export type PositionKind = 'lsn' | 'mysql-gtid' | 'mariadb-gtid' | 'binlog' | 'redis' | 'counter';

/** A closed interval `[start, end]` of MySQL transaction numbers (GNOs). */
export type GnoInterval = readonly [start: bigint, end: bigint];

/** The parsed form of a position, one variant per kind. Treat as opaque outside this module. */
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

/** A parsed replication position. Build one with {@link parsePosition}; compare with {@link comparePositions}. */
export interface Position {
  readonly kind: PositionKind;
  /** The wire string, exactly as received. */
  readonly raw: string;
  /** Positions of different engines are never comparable. */
  readonly engine: Engine;
  readonly value: PositionValue;
}

/** Longest wire string accepted, whatever the engine. */
export const MAX_POSITION_LENGTH = 4096;

/** Accepted format of each engine's positions, with an example; used in error messages and docs. */
export const POSITION_FORMATS: Readonly<Record<Engine, string>> = Object.freeze({
  postgresql: 'an LSN "X/Y" of two hexadecimal numbers of up to 8 digits each, e.g. "16/B374D848"',
  mysql:
    'a GTID set "uuid:n-m[:n-m...][,uuid:...]", e.g. "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7-9", ' +
    'or a binlog coordinate "file.NNNNNN:offset", e.g. "mysql-bin.000003:1234"',
  mariadb:
    'a GTID position "domain-server-seq[,domain-server-seq...]", e.g. "0-1-100,1-2-50", ' +
    'or a binlog coordinate "file.NNNNNN:offset", e.g. "mariadb-bin.000003:1234"',
  redis:
    '"replid:offset" with a 40-character hexadecimal replication id, or a bare offset, ' +
    'e.g. "8f0e2a1c3b4d5e6f708192a3b4c5d6e7f8091a2b:1234" or "1234"',
  doris: 'a journal id, a non-negative decimal integer below 2^64, e.g. "102934"',
  starrocks: 'a journal id, a non-negative decimal integer below 2^64, e.g. "102934"',
  zookeeper: 'a zxid, a non-negative integer below 2^64, decimal or "0x" hexadecimal, e.g. "0x10000002a"',
  etcd: 'a revision, a non-negative decimal integer below 2^64, e.g. "48213"',
  generic: 'an offset, a non-negative decimal integer below 2^64, e.g. "48213"',
});

const MAX_VALUE_IN_MESSAGE = 80;

/** Thrown by {@link parsePosition} when a wire string is not a valid position for its engine. */
export class InvalidPositionError extends Error {
  override readonly name = 'InvalidPositionError';
  readonly engine: Engine;
  /** The offending value, truncated for logs. */
  readonly value: string;
  /** What was wrong, without the engine, value and expected format. */
  readonly reason: string;

  constructor(engine: Engine, raw: string, reason: string, options?: ErrorOptions) {
    super(invalidMessage(engine, raw, reason), options);
    this.engine = engine;
    this.value = truncate(String(raw));
    this.reason = reason;
  }
}

/**
 * Parses a wire string into a position of the engine.
 *
 * @throws {@link InvalidPositionError} naming the engine, the value and the expected format.
 * @example
 * parsePosition('postgresql', '16/B374D848').kind; // 'lsn'
 * parsePosition('mysql', 'mysql-bin.000003:1234').kind; // 'binlog'
 */
export function parsePosition(engine: Engine, raw: string): Position {
  const parsed = parseValue(engine, raw);
  if (typeof parsed === 'string') throw new InvalidPositionError(engine, raw, parsed);
  return Object.freeze({ kind: parsed.kind, raw, engine, value: parsed });
}

/**
 * Validates a wire string without throwing.
 *
 * @returns the same message {@link parsePosition} would throw, or `undefined` when the value is valid.
 */
export function positionError(engine: Engine, raw: string): string | undefined {
  const parsed = parseValue(engine, raw);
  return typeof parsed === 'string' ? invalidMessage(engine, raw, parsed) : undefined;
}

/** True when `value` names a supported engine. */
export function isEngine(value: unknown): value is Engine {
  return typeof value === 'string' && (ENGINES as readonly string[]).includes(value);
}

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
// Parsing. Each parser returns the parsed value or a reason (string) saying what is wrong.

const MAX_U64 = (1n << 64n) - 1n;
const MAX_U32 = (1n << 32n) - 1n;
/** MySQL transaction numbers are signed 64-bit and start at 1. */
const MAX_GNO = (1n << 63n) - 1n;

const DECIMAL = /^[0-9]+$/;
const HEX_PREFIXED = /^0[xX]([0-9a-fA-F]+)$/;
const LSN = /^([0-9a-fA-F]{1,8})\/([0-9a-fA-F]{1,8})$/;
/** `file:offset`, the file being `base.NNNNNN`; the offset is checked by the parser to name what is wrong. */
const BINLOG = /^(([A-Za-z0-9_][A-Za-z0-9_.-]*)\.([0-9]{1,18})):(.*)$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const GTID_TAG = /^[a-zA-Z_][a-zA-Z0-9_]{0,31}$/;
const GNO_INTERVAL = /^([0-9]+)(?:-([0-9]+))?$/;
const MARIADB_GTID = /^([0-9]+)-([0-9]+)-([0-9]+)$/;
const REDIS = /^(?:([0-9a-fA-F]+):)?(.*)$/;
const REDIS_REPLID_LENGTH = 40;

function parseValue(engine: Engine, raw: string): PositionValue | string {
  if (typeof raw !== 'string') return `is a ${typeof raw}, not a string`;
  if (raw.length === 0) return 'is empty';
  if (raw.length > MAX_POSITION_LENGTH) return `is longer than ${MAX_POSITION_LENGTH} characters`;
  if (raw.trim().length === 0) return 'is only whitespace';
  if (raw.trim() !== raw) return 'has leading or trailing whitespace';
  switch (engine) {
    case 'postgresql':
      return parseLsn(raw);
    case 'mysql':
      return parseMysql(raw);
    case 'mariadb':
      return parseMariadb(raw);
    case 'redis':
      return parseRedis(raw);
    case 'doris':
    case 'starrocks':
    case 'etcd':
    case 'generic':
      return parseCounter(raw, false);
    case 'zookeeper':
      return parseCounter(raw, true);
    default:
      return `cannot be parsed: unknown engine ${JSON.stringify(engine satisfies never)}`;
  }
}

function parseLsn(raw: string): PositionValue | string {
  const match = LSN.exec(raw);
  if (match === null) {
    return raw.includes('/') ? 'has a part that is not 1 to 8 hexadecimal digits' : 'has no "/"';
  }
  const [, high = '', low = ''] = match;
  return { kind: 'lsn', lsn: (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`) };
}

function parseCounter(raw: string, allowHex: boolean): PositionValue | string {
  const hexDigits = allowHex ? HEX_PREFIXED.exec(raw)?.[1] : undefined;
  const value = hexDigits !== undefined ? BigInt(`0x${hexDigits}`) : parseDecimal(raw, MAX_U64);
  if (typeof value === 'string') return value;
  return value > MAX_U64 ? `exceeds the maximum ${MAX_U64}` : { kind: 'counter', value };
}

function parseDecimal(text: string, max: bigint): bigint | string {
  if (text.startsWith('-') && DECIMAL.test(text.slice(1))) return 'is negative';
  if (!DECIMAL.test(text)) return 'is not a non-negative integer';
  const value = BigInt(text);
  return value > max ? `exceeds the maximum ${max}` : value;
}

function parseRedis(raw: string): PositionValue | string {
  const match = REDIS.exec(raw);
  const replid = match?.[1];
  const offsetText = match?.[2] ?? raw;
  if (replid !== undefined && replid.length !== REDIS_REPLID_LENGTH) {
    return `has a replication id of ${replid.length} characters, not ${REDIS_REPLID_LENGTH}`;
  }
  if (replid === undefined && raw.includes(':')) {
    return 'has a replication id that is not hexadecimal';
  }
  const offset = parseDecimal(offsetText, MAX_U64);
  if (typeof offset === 'string') return `has an offset that ${offset}`;
  return { kind: 'redis', replid: replid?.toLowerCase(), offset };
}

function parseBinlog(match: RegExpExecArray): PositionValue | string {
  const [, file = '', base = '', sequence = '', offsetText = ''] = match;
  const offset = parseDecimal(offsetText, MAX_U64);
  if (typeof offset === 'string') return `has a binlog offset that ${offset}`;
  return { kind: 'binlog', file, base, sequence: BigInt(sequence), offset };
}

function parseMysql(raw: string): PositionValue | string {
  const binlog = BINLOG.exec(raw);
  if (binlog !== null) return parseBinlog(binlog);
  if (!/^[0-9a-fA-F]{8}-/.test(raw)) return 'is neither a GTID set nor a binlog coordinate';
  return parseMysqlGtidSet(raw);
}

/**
 * MySQL prints `gtid_executed` with a newline after each comma, so whitespace around commas is allowed
 * here (and only here).
 */
function parseMysqlGtidSet(raw: string): PositionValue | string {
  const collected = new Map<string, GnoInterval[]>();
  for (const element of raw.split(',').map((part) => part.trim())) {
    if (element.length === 0) return 'has an empty element between commas';
    const [uuid = '', ...rest] = element.split(':');
    if (!UUID.test(uuid)) return `has ${quote(uuid)}, which is not a UUID`;
    let key = uuid.toLowerCase();
    let needsInterval = true;
    for (const part of rest) {
      if (GTID_TAG.test(part)) {
        if (needsInterval && key.includes(':')) return `has tag ${quote(key)} without an interval`;
        key = `${uuid.toLowerCase()}:${part.toLowerCase()}`;
        needsInterval = true;
        continue;
      }
      const interval = parseGnoInterval(part);
      if (typeof interval === 'string') return interval;
      const intervals = collected.get(key) ?? [];
      intervals.push(interval);
      collected.set(key, intervals);
      needsInterval = false;
    }
    if (needsInterval) return `has ${quote(element)} without an interval`;
  }
  const sets = new Map<string, readonly GnoInterval[]>();
  for (const [key, intervals] of collected) sets.set(key, mergeIntervals(intervals));
  return { kind: 'mysql-gtid', sets };
}

function parseGnoInterval(text: string): GnoInterval | string {
  const match = GNO_INTERVAL.exec(text);
  if (match === null) return `has interval ${quote(text)}, which is not "n" or "n-m"`;
  const [, startText = '', endText] = match;
  const start = BigInt(startText);
  const end = endText === undefined ? start : BigInt(endText);
  if (start < 1n) return `has interval ${quote(text)}; transaction numbers start at 1`;
  if (end > MAX_GNO) return `has interval ${quote(text)} beyond the maximum transaction number ${MAX_GNO}`;
  if (end < start) return `has interval ${quote(text)}, which ends before it starts`;
  return [start, end];
}

/** Sorts and coalesces overlapping or adjacent intervals (1-3 and 4-5 become 1-5). */
function mergeIntervals(intervals: readonly GnoInterval[]): GnoInterval[] {
  const sorted = [...intervals].sort(([a], [b]) => sign(a - b));
  const merged: [bigint, bigint][] = [];
  for (const [start, end] of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && start <= last[1] + 1n) {
      if (end > last[1]) last[1] = end;
    } else {
      merged.push([start, end]);
    }
  }
  return merged;
}

function parseMariadb(raw: string): PositionValue | string {
  const binlog = BINLOG.exec(raw);
  if (binlog !== null) return parseBinlog(binlog);
  if (!/^[0-9]+-/.test(raw)) return 'is neither a GTID position nor a binlog coordinate';
  const domains = new Map<number, MariadbGtid>();
  for (const element of raw.split(',')) {
    const match = MARIADB_GTID.exec(element);
    if (match === null) return `has ${quote(element)}, which is not "domain-server-seq"`;
    const [, domainText = '', serverText = '', seqText = ''] = match;
    const domain = parseDecimal(domainText, MAX_U32);
    const server = parseDecimal(serverText, MAX_U32);
    const seq = parseDecimal(seqText, MAX_U64);
    if (typeof domain === 'string') return `has a domain id that ${domain}`;
    if (typeof server === 'string') return `has a server id that ${server}`;
    if (typeof seq === 'string') return `has a sequence number that ${seq}`;
    if (domains.has(Number(domain))) return `has domain ${domain} more than once`;
    domains.set(Number(domain), { domain: Number(domain), server: Number(server), seq });
  }
  return { kind: 'mariadb-gtid', domains };
}

// ---------------------------------------------------------------------------------------------------
// Comparison helpers.

function sign(difference: bigint): -1 | 0 | 1 {
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

// ---------------------------------------------------------------------------------------------------
// Messages.

function invalidMessage(engine: Engine, raw: string, reason: string): string {
  const format = POSITION_FORMATS[engine] ?? 'a position of a supported engine';
  return `Invalid ${engine} position ${quote(String(raw))}: ${reason}. Expected ${format}.`;
}

function truncate(value: string): string {
  return value.length <= MAX_VALUE_IN_MESSAGE ? value : `${value.slice(0, MAX_VALUE_IN_MESSAGE)}...`;
}

/** JSON-quoted so that control characters show; long values are cut and their length given. */
function quote(value: string): string {
  if (value.length <= MAX_VALUE_IN_MESSAGE) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_VALUE_IN_MESSAGE))}... (${value.length} characters)`;
}
