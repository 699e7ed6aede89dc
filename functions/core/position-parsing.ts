/**
 * Parsing replication positions: a wire string (docs/DESIGN.md §3a) becomes a {@link Position} of its
 * engine, or an error naming the engine, the value and the expected format.
 */
import {
  type Engine,
  type GnoInterval,
  MAX_GNO,
  type MariadbGtid,
  type Position,
  type PositionValue,
} from './position';
import { sign } from './position-comparison';

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

// ---------------------------------------------------------------------------------------------------
// Parsing. Each parser returns the parsed value or a reason (string) saying what is wrong.

const MAX_U64 = (1n << 64n) - 1n;
const MAX_U32 = (1n << 32n) - 1n;

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
