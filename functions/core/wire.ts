import * as z from 'zod';
import { InvalidRecordError } from './errors';
import { ENGINES, type Engine } from './position';
import { positionError } from './position-parsing';

/**
 * The wire format (docs/DESIGN.md §3a) is a public contract: third-party probes send it. Unknown fields are
 * ignored; missing required fields and wrong types are rejected with the field's name.
 */

/** A heartbeat larger than this is rejected: real ones are well under 2 KiB. */
export const MAX_HEARTBEAT_BYTES = 16 * 1024;
/** A change event larger than this is rejected (Debezium events carry row images). */
export const MAX_CHANGE_EVENT_BYTES = 1024 * 1024;

/**
 * Ids become part of DynamoDB keys (`CLUSTER#<id>`): no `#`, no spaces, bounded length, so two ids
 * can never build the same key.
 */
export const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$/, {
  message: 'must be 1-128 characters of letters, digits and . _ : @ / - (starting with a letter or digit)',
});

const IsoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 date-time such as 2026-11-22T23:00:01.250Z',
});

const EngineSchema = z.enum(ENGINES as unknown as [Engine, ...Engine[]], {
  message: `must be one of ${ENGINES.join(', ')}`,
});

const PositionString = z.string().min(1, { message: 'must not be empty' }).max(4096);

const ReplicationSchema = z.object({
  sourceNodeId: Id.optional(),
  linkUp: z.boolean(),
  receivedPosition: PositionString.optional(),
  appliedPosition: PositionString.optional(),
  lagSeconds: z.number().nonnegative().finite().optional(),
  paused: z.boolean().optional(),
});

/**
 * Whether a primary stops taking writes by itself when cut off from its replicas (Redis
 * `min-replicas-to-write`, MySQL/MariaDB semi-sync, PostgreSQL `synchronous_standby_names`), as the probe
 * read it. `detail` names the settings (`min-replicas-to-write 1, min-replicas-max-lag 10`).
 */
const SelfFencingSchema = z.object({
  enabled: z.boolean(),
  detail: z.string().max(512),
});

export const HeartbeatSchema = z
  .object({
    v: z.literal(1, { message: 'must be 1 (the only wire format version)' }),
    clusterId: Id,
    nodeId: Id,
    engine: EngineSchema,
    role: z.enum(['primary', 'replica', 'unknown'], { message: 'must be one of primary, replica, unknown' }),
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    observedAt: IsoTime,
    observerId: Id.optional(),
    reachable: z.boolean().default(true),
    position: PositionString.optional(),
    replication: ReplicationSchema.optional(),
    /** Reported on primaries by the built-in probes, best effort (absent when it could not be read). */
    selfFencing: SelfFencingSchema.optional(),
    /**
     * Primaries, best effort: how many keys/rows its data set holds, as the probe counted them (Redis: the
     * sum of `keys=` over INFO keyspace, the probe's own heartbeat key included). The restart-empty rule
     * (data-loss.ts) compares two counts of the same primary across a new replication history: a restart
     * with its data (append-only file) keeps the count, a restart without loses it.
     */
    datasetKeys: z
      .number()
      .int({ message: 'must be a non-negative integer' })
      .nonnegative({ message: 'must be a non-negative integer' })
      .max(Number.MAX_SAFE_INTEGER)
      .optional(),
  })
  .superRefine((hb, ctx) => {
    // Positions must match the engine's format; parseHeartbeat also checks them on the raw input so
    // they are named even when another field is wrong (this refinement is skipped then).
    for (const issue of positionIssues(hb)) {
      ctx.addIssue({ code: 'custom', path: issue.path.split('.'), message: issue.message });
    }
  });

const POSITION_FIELDS: readonly (readonly string[])[] = [
  ['position'],
  ['replication', 'receivedPosition'],
  ['replication', 'appliedPosition'],
];

/**
 * Positions checked against the engine's format, on the raw input, so a bad position is named even
 * when other fields are wrong too (a zod refinement would be skipped then).
 */
function positionIssues(raw: object): { path: string; message: string }[] {
  const engine = (raw as { engine?: unknown }).engine;
  if (typeof engine !== 'string' || !(ENGINES as readonly string[]).includes(engine)) return [];
  const issues: { path: string; message: string }[] = [];
  for (const path of POSITION_FIELDS) {
    let value: unknown = raw;
    for (const key of path)
      value =
        typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    if (typeof value !== 'string' || value.length === 0) continue;
    const problem = positionError(engine as Engine, value);
    if (problem) issues.push({ path: path.join('.'), message: problem });
  }
  return issues;
}

export type HeartbeatInput = z.input<typeof HeartbeatSchema>;

/** A validated heartbeat, with defaults applied and the observation time as epoch milliseconds. */
export type Heartbeat = Omit<z.output<typeof HeartbeatSchema>, 'observerId'> & {
  observerId: string;
  observedAtMs: number;
};

/** Our own change-event envelope: the head position of a cluster's source. */
export const ChangeEventSchema = z.object({
  v: z.literal(1, { message: 'must be 1 (the only wire format version)' }),
  clusterId: Id,
  engine: EngineSchema,
  position: PositionString,
  committedAt: IsoTime,
  /** Optional extension: which stream of the cluster this head belongs to (default `default`). */
  stream: Id.optional(),
});

/** A source head observation, from our envelope or a Debezium event. */
export interface SourceHeadEvent {
  clusterId: string;
  engine: Engine;
  stream: string;
  position: string;
  committedAtMs: number;
}

type Issue = { path: string; message: string };

function zodIssues(error: z.ZodError | undefined, prefix = ''): Issue[] {
  return (error?.issues ?? []).map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((part) => part !== '').join('.');
    return { path: path || '(record)', message: issue.message };
  });
}

/** One line naming every wrong field once (a field with two problems keeps the first). */
function describeIssues(issues: readonly Issue[]): string {
  const seen = new Set<string>();
  return issues
    .filter((issue) => !seen.has(issue.path) && seen.add(issue.path))
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ');
}

/** Decodes raw bytes as a JSON object, or throws InvalidRecordError saying why not. */
export function decodeJson(bytes: Uint8Array, maxBytes: number, what: string): Record<string, unknown> {
  if (bytes.byteLength > maxBytes) {
    throw new InvalidRecordError(`${what} is ${bytes.byteLength} bytes; at most ${maxBytes} are accepted`);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidRecordError(`${what} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
    throw new InvalidRecordError(`${what} must be a JSON object, not ${kind}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Validates a decoded heartbeat. Throws InvalidRecordError naming every wrong field.
 *
 * @example
 * parseHeartbeat({ v: 1, clusterId: 'orders-pg', nodeId: 'pg-1', engine: 'postgresql', role: 'primary',
 *   seq: 1, observedAt: '2026-11-22T23:00:01.250Z', position: '0/303DD40' });
 */
export function parseHeartbeat(value: unknown): Heartbeat {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRecordError('invalid heartbeat: (record): must be a JSON object');
  }
  const result = HeartbeatSchema.safeParse(value);
  const issues = [...zodIssues(result.error), ...positionIssues(value as Record<string, unknown>)];
  if (!result.success || issues.length > 0) {
    throw new InvalidRecordError(`invalid heartbeat: ${describeIssues(issues)}`);
  }
  const hb = result.data;
  return { ...hb, observerId: hb.observerId ?? hb.nodeId, observedAtMs: Date.parse(hb.observedAt) };
}

const DebeziumSourceSchema = z.object({
  connector: z.string(),
  name: Id,
  ts_ms: z.number().int().nonnegative(),
  lsn: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).nullish(),
  file: z.string().nullish(),
  pos: z.number().int().nonnegative().nullish(),
  gtid: z.string().nullish(),
});

const DebeziumPayloadSchema = z.object({ source: DebeziumSourceSchema, op: z.string().optional() });

function debeziumPosition(source: z.output<typeof DebeziumSourceSchema>): {
  engine: Engine;
  position: string;
} {
  const connector = source.connector.toLowerCase();
  if (connector === 'postgresql') {
    if (source.lsn === undefined || source.lsn === null) {
      throw new InvalidRecordError(
        'invalid Debezium event: payload.source.lsn: required for the postgresql connector',
      );
    }
    const lsn = BigInt(source.lsn);
    const hi = (lsn >> 32n).toString(16).toUpperCase();
    const lo = (lsn & 0xffffffffn).toString(16).toUpperCase();
    return { engine: 'postgresql', position: `${hi}/${lo}` };
  }
  if (connector === 'mysql' || connector === 'mariadb') {
    let engine: Engine = connector;
    if (source.gtid) {
      // Debezium gives the GTID of the transaction itself. As a head position it means "everything up
      // to this transaction": uuid[:tag]:N becomes the set uuid[:tag]:1-N (MySQL); MariaDB's
      // domain-server-seq is already a position. Debezium's MySQL connector pointed at MariaDB (before
      // the MariaDB connector existed) says 'mysql' but sends MariaDB GTIDs: the GTID's shape decides.
      const mysqlGtid = /^([0-9a-fA-F-]{36}(?::[A-Za-z_][A-Za-z0-9_]{0,31})?):(\d+)$/.exec(source.gtid);
      if (mysqlGtid) return { engine: 'mysql', position: `${mysqlGtid[1]}:1-${mysqlGtid[2]}` };
      if (/^\d+-\d+-\d+(,\d+-\d+-\d+)*$/.test(source.gtid)) engine = 'mariadb';
      return { engine, position: source.gtid };
    }
    if (source.file && source.pos !== undefined && source.pos !== null) {
      return { engine, position: `${source.file}:${source.pos}` };
    }
    throw new InvalidRecordError(
      `invalid Debezium event: payload.source: the ${connector} connector needs gtid, or file and pos`,
    );
  }
  throw new InvalidRecordError(
    `invalid Debezium event: payload.source.connector: '${source.connector}' is not supported (postgresql, mysql, mariadb)`,
  );
}

/**
 * Validates a change event: our envelope (`v: 1`) or a Debezium change event as Debezium Server's
 * Kinesis sink writes it (with or without the `schema`/`payload` wrapper). For Debezium the cluster
 * id is the connector's logical name (`source.name`, Debezium's `topic.prefix`).
 */
export function parseChangeEvent(value: unknown): SourceHeadEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRecordError('invalid change event: (record): must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  if ('v' in record) {
    const result = ChangeEventSchema.safeParse(record);
    if (!result.success) {
      throw new InvalidRecordError(`invalid change event: ${describeIssues(zodIssues(result.error))}`);
    }
    const event = result.data;
    const problem = positionError(event.engine, event.position);
    if (problem) throw new InvalidRecordError(`invalid change event: position: ${problem}`);
    return {
      clusterId: event.clusterId,
      engine: event.engine,
      stream: event.stream ?? 'default',
      position: event.position,
      committedAtMs: Date.parse(event.committedAt),
    };
  }
  const payload = 'payload' in record ? record.payload : record;
  const result = DebeziumPayloadSchema.safeParse(payload);
  if (!result.success) {
    const detail = describeIssues(zodIssues(result.error, 'payload' in record ? 'payload' : ''));
    throw new InvalidRecordError(
      `invalid change event: neither our envelope (no 'v' field) nor a Debezium event: ${detail}`,
    );
  }
  const source = result.data.source;
  const { engine, position } = debeziumPosition(source);
  const problem = positionError(engine, position);
  if (problem) throw new InvalidRecordError(`invalid Debezium event: payload.source: ${problem}`);
  return { clusterId: source.name, engine, stream: 'debezium', position, committedAtMs: source.ts_ms };
}
