import { describe, expect, it } from '@jest/globals';
import { InvalidRecordError } from '../../functions/core/errors';
import {
  decodeJson,
  HeartbeatSchema,
  MAX_CHANGE_EVENT_BYTES,
  MAX_HEARTBEAT_BYTES,
  parseChangeEvent,
  parseHeartbeat,
} from '../../functions/core/wire';
import { type DebeziumEnvelope, type DebeziumPayload, loadEvent } from '../fixtures/events';

/** The heartbeat of docs/DESIGN.md §3a, comments removed. */
const DESIGN_EXAMPLE = {
  v: 1,
  clusterId: 'orders-pg',
  nodeId: 'pg-2',
  engine: 'postgresql',
  role: 'replica',
  seq: 1042,
  observedAt: '2026-11-22T23:00:01.250Z',
  observerId: 'pg-2',
  reachable: true,
  position: '0/303DD40',
  replication: {
    sourceNodeId: 'pg-1',
    linkUp: true,
    receivedPosition: '0/303DF70',
    appliedPosition: '0/3033448',
    lagSeconds: 7.2,
    paused: false,
  },
} as const;

/** Only the required fields. */
const MINIMAL = {
  v: 1,
  clusterId: 'orders-pg',
  nodeId: 'pg-1',
  engine: 'postgresql',
  role: 'primary',
  seq: 7,
  observedAt: '2026-11-22T23:00:01.250Z',
} as const;

const OBSERVED_AT_MS = Date.UTC(2026, 10, 22, 23, 0, 1, 250);
const ID_RULE =
  'must be 1-128 characters of letters, digits and . _ : @ / - (starting with a letter or digit)';
const ENGINE_RULE =
  'must be one of postgresql, mysql, mariadb, redis, doris, starrocks, zookeeper, etcd, generic';
const ISO_RULE = 'must be an ISO-8601 date-time such as 2026-11-22T23:00:01.250Z';
const LSN_FORMAT =
  'Expected an LSN "X/Y" of two hexadecimal numbers of up to 8 digits each, e.g. "16/B374D848".';
const MYSQL_UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Runs `act`, which must throw, and returns what it threw. */
function thrownBy(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected an error, but none was thrown');
}

function without(record: Record<string, unknown>, field: string): Record<string, unknown> {
  const copy = { ...record };
  delete copy[field];
  return copy;
}

describe('parseHeartbeat', () => {
  it('parses the docs/DESIGN.md example as it is and adds the observation time in epoch milliseconds', () => {
    // Prepare
    const input = structuredClone(DESIGN_EXAMPLE);

    // Act
    const heartbeat = parseHeartbeat(input);

    // Assess
    expect(heartbeat).toEqual({ ...DESIGN_EXAMPLE, observedAtMs: OBSERVED_AT_MS });
  });

  it('defaults observerId to nodeId and reachable to true when a node reports about itself', () => {
    const heartbeat = parseHeartbeat({ ...MINIMAL });

    expect(heartbeat).toEqual({
      ...MINIMAL,
      observerId: 'pg-1',
      reachable: true,
      observedAtMs: OBSERVED_AT_MS,
    });
  });

  it('keeps the observer and reachability a probe reports about another node', () => {
    const heartbeat = parseHeartbeat({ ...MINIMAL, observerId: 'probe-eu-west-1a', reachable: false });

    expect(heartbeat.observerId).toBe('probe-eu-west-1a');
    expect(heartbeat.nodeId).toBe('pg-1');
    expect(heartbeat.reachable).toBe(false);
  });

  it('ignores unknown fields at the top level and inside replication', () => {
    const input = {
      ...MINIMAL,
      role: 'replica',
      probeVersion: '2.4.1',
      tags: { az: 'eu-west-1a' },
      replication: { linkUp: true, appliedPosition: '0/3033448', slotName: 'pg_2_slot' },
    };

    const heartbeat = parseHeartbeat(input);

    expect(heartbeat).toEqual({
      ...MINIMAL,
      role: 'replica',
      replication: { linkUp: true, appliedPosition: '0/3033448' },
      observerId: 'pg-1',
      reachable: true,
      observedAtMs: OBSERVED_AT_MS,
    });
  });

  it('computes observedAtMs from a time written with a UTC offset', () => {
    const heartbeat = parseHeartbeat({ ...MINIMAL, observedAt: '2026-11-23T00:00:01.250+01:00' });

    expect(heartbeat.observedAtMs).toBe(OBSERVED_AT_MS);
  });

  it.each<[field: string, message: string]>([
    ['v', 'v: must be 1 (the only wire format version)'],
    ['clusterId', 'clusterId: Invalid input: expected string, received undefined'],
    ['nodeId', 'nodeId: Invalid input: expected string, received undefined'],
    ['engine', `engine: ${ENGINE_RULE}`],
    ['role', 'role: must be one of primary, replica, unknown'],
    ['seq', 'seq: Invalid input: expected number, received undefined'],
    ['observedAt', `observedAt: ${ISO_RULE}`],
  ])('rejects a heartbeat without %s and names that field', (field, message) => {
    const error = thrownBy(() => parseHeartbeat(without(MINIMAL, field)));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(`invalid heartbeat: ${message}`);
  });

  it('keeps the dataset key count a probe reports on a primary, 0 included', () => {
    expect(parseHeartbeat({ ...MINIMAL, datasetKeys: 1201 }).datasetKeys).toBe(1201);
    expect(parseHeartbeat({ ...MINIMAL, datasetKeys: 0 }).datasetKeys).toBe(0);
    expect(parseHeartbeat(MINIMAL).datasetKeys).toBeUndefined();
  });

  it('rejects replication without linkUp and names replication.linkUp', () => {
    const error = thrownBy(() =>
      parseHeartbeat({ ...MINIMAL, role: 'replica', replication: { appliedPosition: '0/1' } }),
    );

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      'invalid heartbeat: replication.linkUp: Invalid input: expected boolean, received undefined',
    );
  });

  it.each<[what: string, override: Record<string, unknown>, message: string]>([
    ['seq as a string', { seq: '1042' }, 'seq: Invalid input: expected number, received string'],
    ['a negative seq', { seq: -1 }, 'seq: Too small: expected number to be >=0'],
    ['a fractional seq', { seq: 1.5 }, 'seq: Invalid input: expected int, received number'],
    ['an unknown engine', { engine: 'oracle' }, `engine: ${ENGINE_RULE}`],
    ['an unknown role', { role: 'leader' }, 'role: must be one of primary, replica, unknown'],
    ['observedAt in words', { observedAt: 'yesterday' }, `observedAt: ${ISO_RULE}`],
    ['observedAt without the T', { observedAt: '2026-11-22 23:00:01' }, `observedAt: ${ISO_RULE}`],
    ['observedAt as a date only', { observedAt: '2026-11-22' }, `observedAt: ${ISO_RULE}`],
    ['observedAt as epoch milliseconds', { observedAt: OBSERVED_AT_MS }, `observedAt: ${ISO_RULE}`],
    ['wire format version 2', { v: 2 }, 'v: must be 1 (the only wire format version)'],
    ['the version as a string', { v: '1' }, 'v: must be 1 (the only wire format version)'],
    [
      'reachable as a string',
      { reachable: 'yes' },
      'reachable: Invalid input: expected boolean, received string',
    ],
    ['a negative datasetKeys', { datasetKeys: -1 }, 'datasetKeys: must be a non-negative integer'],
    ['a fractional datasetKeys', { datasetKeys: 2.5 }, 'datasetKeys: must be a non-negative integer'],
    [
      'datasetKeys as a string',
      { datasetKeys: '12' },
      'datasetKeys: Invalid input: expected number, received string',
    ],
    [
      'a negative lag',
      { replication: { linkUp: true, lagSeconds: -1 } },
      'replication.lagSeconds: Too small: expected number to be >=0',
    ],
  ])('rejects %s and names the field', (_what, override, message) => {
    const error = thrownBy(() => parseHeartbeat({ ...MINIMAL, ...override }));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(`invalid heartbeat: ${message}`);
  });

  it.each<[field: string, override: Record<string, unknown>]>([
    ['nodeId', { nodeId: 'pg#2' }],
    ['nodeId', { nodeId: 'pg 2' }],
    ['nodeId', { nodeId: '' }],
    ['nodeId', { nodeId: '-pg-2' }],
    ['nodeId', { nodeId: 'p'.repeat(129) }],
    ['clusterId', { clusterId: 'orders#pg' }],
    ['clusterId', { clusterId: 'orders pg' }],
    ['observerId', { observerId: 'probe #1' }],
    ['replication.sourceNodeId', { replication: { linkUp: true, sourceNodeId: 'pg 1' } }],
  ])('rejects %s %j, which could not be part of a key', (field, override) => {
    const error = thrownBy(() => parseHeartbeat({ ...MINIMAL, ...override }));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(`invalid heartbeat: ${field}: ${ID_RULE}`);
  });

  it('accepts ids of 128 characters made of every allowed character', () => {
    const nodeId = `a${'Z9._:@/-'.repeat(16)}`.slice(0, 128);

    const heartbeat = parseHeartbeat({ ...MINIMAL, nodeId });

    expect(heartbeat.nodeId).toBe(nodeId);
    expect(heartbeat.observerId).toBe(nodeId);
  });

  it.each<[field: string, override: Record<string, unknown>, message: string]>([
    [
      'replication.appliedPosition',
      { role: 'replica', replication: { linkUp: true, appliedPosition: 'xyz' } },
      `Invalid postgresql position "xyz": has no "/". ${LSN_FORMAT}`,
    ],
    [
      'replication.receivedPosition',
      { role: 'replica', replication: { linkUp: true, receivedPosition: '0/1 ' } },
      `Invalid postgresql position "0/1 ": has leading or trailing whitespace. ${LSN_FORMAT}`,
    ],
    [
      'position',
      { engine: 'mysql', position: 'banana' },
      'Invalid mysql position "banana": is neither a GTID set nor a binlog coordinate. Expected a GTID set ' +
        '"uuid:n-m[:n-m...][,uuid:...]", e.g. "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7-9", or a binlog ' +
        'coordinate "file.NNNNNN:offset", e.g. "mysql-bin.000003:1234".',
    ],
  ])('names %s when the position is not valid for the engine', (field, override, problem) => {
    const error = thrownBy(() => parseHeartbeat({ ...MINIMAL, ...override }));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(`invalid heartbeat: ${field}: ${problem}`);
  });

  it('lists every wrong field in one message, in the order of the wire format', () => {
    const error = thrownBy(() => parseHeartbeat({ ...MINIMAL, seq: 'x', role: 'leader', nodeId: 'pg#2' }));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      `invalid heartbeat: nodeId: ${ID_RULE}; role: must be one of primary, replica, unknown; ` +
        'seq: Invalid input: expected number, received string',
    );
  });

  // Documented: "Throws InvalidRecordError naming every wrong field". Zod skips the position refinement
  // as soon as another field has a type error, so a probe fixing `seq` only then learns about its position.
  it('names a bad position together with the other wrong fields', () => {
    const input = {
      ...MINIMAL,
      role: 'replica',
      seq: 'x',
      replication: { linkUp: true, appliedPosition: 'xyz' },
    };

    const error = thrownBy(() => parseHeartbeat(input));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toContain('seq: Invalid input: expected number, received string');
    expect(error.message).toContain('replication.appliedPosition: Invalid postgresql position "xyz"');
  });

  it.each<[what: string, value: unknown]>([
    ['an array', [MINIMAL]],
    ['a number', 42],
    ['null', null],
    ['a string', JSON.stringify(MINIMAL)],
  ])('rejects %s as not a JSON object', (_what, value) => {
    const error = thrownBy(() => parseHeartbeat(value));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe('invalid heartbeat: (record): must be a JSON object');
  });
});

describe('HeartbeatSchema', () => {
  it('applies the reachable default and leaves observerId for parseHeartbeat to fill in', () => {
    const result = HeartbeatSchema.safeParse({ ...MINIMAL });

    expect(result.success).toBe(true);
    expect(result.data).toEqual({ ...MINIMAL, reachable: true });
  });

  it('reports a bad position as one custom issue at the path of the field', () => {
    const result = HeartbeatSchema.safeParse({
      ...MINIMAL,
      role: 'replica',
      replication: { linkUp: true, receivedPosition: '0/1', appliedPosition: 'xyz' },
    });

    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      {
        code: 'custom',
        path: ['replication', 'appliedPosition'],
        message: `Invalid postgresql position "xyz": has no "/". ${LSN_FORMAT}`,
      },
    ]);
  });
});

describe('decodeJson', () => {
  it('decodes a JSON object', () => {
    const value = decodeJson(bytes(JSON.stringify(MINIMAL)), MAX_HEARTBEAT_BYTES, 'heartbeat');

    expect(value).toEqual(MINIMAL);
  });

  it('accepts a record of exactly the maximum size', () => {
    const json = JSON.stringify({ pad: '' });
    const exact = `${json.slice(0, -2)}${'x'.repeat(MAX_HEARTBEAT_BYTES - json.length)}"}`;

    const value = decodeJson(bytes(exact), MAX_HEARTBEAT_BYTES, 'heartbeat');

    expect(bytes(exact).byteLength).toBe(MAX_HEARTBEAT_BYTES);
    expect(value).toEqual({ pad: 'x'.repeat(MAX_HEARTBEAT_BYTES - json.length) });
  });

  it('rejects a record one byte over the maximum, naming its size and the limit', () => {
    const error = thrownBy(() =>
      decodeJson(new Uint8Array(MAX_HEARTBEAT_BYTES + 1), MAX_HEARTBEAT_BYTES, 'heartbeat'),
    );

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe('heartbeat is 16385 bytes; at most 16384 are accepted');
  });

  it('counts bytes, not characters, against the limit', () => {
    const error = thrownBy(() => decodeJson(bytes(`"${'é'.repeat(10)}"`), 20, 'change event'));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe('change event is 22 bytes; at most 20 are accepted');
  });

  it('allows change events up to 1 MiB', () => {
    expect(MAX_CHANGE_EVENT_BYTES).toBe(1_048_576);
    expect(MAX_HEARTBEAT_BYTES).toBe(16_384);
  });

  it.each<[what: string, text: string]>([
    ['truncated JSON', '{"v":1,"clusterId":"orders-pg"'],
    ['an empty record', ''],
    ['plain text', 'pg-1 is up'],
    ['JSON with a trailing comma', '{"v":1,}'],
  ])('rejects %s, keeping the parser error as the cause', (_what, text) => {
    const error = thrownBy(() => decodeJson(bytes(text), MAX_HEARTBEAT_BYTES, 'heartbeat'));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toMatch(/^heartbeat is not valid JSON: \S/);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.message).toBe(`heartbeat is not valid JSON: ${(error.cause as SyntaxError).message}`);
  });

  // Documented as "Decodes raw bytes as a JSON object, or throws InvalidRecordError saying why not";
  // it returns any JSON value.
  it.each<[what: string, text: string]>([
    ['an array', '[{"v":1}]'],
    ['a number', '42'],
    ['null', 'null'],
    ['a string', '"pg-1"'],
  ])('rejects %s, which is JSON but not a JSON object', (_what, text) => {
    const error = thrownBy(() => decodeJson(bytes(text), MAX_HEARTBEAT_BYTES, 'heartbeat'));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toMatch(/^heartbeat .*JSON object/);
  });
});

describe('parseChangeEvent with our envelope', () => {
  const ENVELOPE = {
    v: 1,
    clusterId: 'orders-pg',
    engine: 'postgresql',
    position: '0/303DD40',
    committedAt: '2026-11-22T23:00:01.250Z',
  } as const;

  it('reads the head position and commit time on the default stream', () => {
    const event = parseChangeEvent({ ...ENVELOPE });

    expect(event).toEqual({
      clusterId: 'orders-pg',
      engine: 'postgresql',
      stream: 'default',
      position: '0/303DD40',
      committedAtMs: OBSERVED_AT_MS,
    });
  });

  it('puts the head on the stream the event names', () => {
    const event = parseChangeEvent({ ...ENVELOPE, stream: 'wal-primary' });

    expect(event.stream).toBe('wal-primary');
  });

  it('ignores unknown fields', () => {
    const event = parseChangeEvent({ ...ENVELOPE, producer: 'cdc-bridge', lagMs: 12 });

    expect(event).toEqual({
      clusterId: 'orders-pg',
      engine: 'postgresql',
      stream: 'default',
      position: '0/303DD40',
      committedAtMs: OBSERVED_AT_MS,
    });
  });

  it('rejects a position that is not valid for the engine and names position', () => {
    const error = thrownBy(() => parseChangeEvent({ ...ENVELOPE, position: 'xyz' }));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      `invalid change event: position: Invalid postgresql position "xyz": has no "/". ${LSN_FORMAT}`,
    );
  });

  it.each<[what: string, input: Record<string, unknown>, message: string]>([
    ['without committedAt', without(ENVELOPE, 'committedAt'), `committedAt: ${ISO_RULE}`],
    [
      'without position',
      without(ENVELOPE, 'position'),
      'position: Invalid input: expected string, received undefined',
    ],
    ['of wire format version 2', { ...ENVELOPE, v: 2 }, 'v: must be 1 (the only wire format version)'],
    ['with a stream containing #', { ...ENVELOPE, stream: 'wal#1' }, `stream: ${ID_RULE}`],
    ['with an unknown engine', { ...ENVELOPE, engine: 'oracle' }, `engine: ${ENGINE_RULE}`],
  ])('rejects an envelope %s and names the field', (_what, input, message) => {
    const error = thrownBy(() => parseChangeEvent(input));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(`invalid change event: ${message}`);
  });

  it.each<[what: string, value: unknown]>([
    ['an array', [ENVELOPE]],
    ['a number', 1],
    ['null', null],
  ])('rejects %s as not a JSON object', (_what, value) => {
    const error = thrownBy(() => parseChangeEvent(value));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe('invalid change event: (record): must be a JSON object');
  });
});

describe('parseChangeEvent with Debezium events', () => {
  const postgres = (): DebeziumEnvelope => loadEvent<DebeziumEnvelope>('debezium-postgres-update');
  const mysql = (): DebeziumPayload => loadEvent<DebeziumPayload>('debezium-mysql-insert');
  const mariadb = (): DebeziumPayload => loadEvent<DebeziumPayload>('debezium-mariadb-insert');

  it('reads a PostgreSQL update with the schema/payload wrapper (JSON converter, schemas enabled)', () => {
    const event = parseChangeEvent(postgres());

    expect(event).toEqual({
      clusterId: 'orders-pg',
      engine: 'postgresql',
      stream: 'debezium',
      position: '0/16E9058',
      committedAtMs: 1_795_388_401_250,
    });
  });

  it('reads the same PostgreSQL update without the wrapper (schemas disabled)', () => {
    const event = parseChangeEvent(postgres().payload);

    expect(event).toEqual({
      clusterId: 'orders-pg',
      engine: 'postgresql',
      stream: 'debezium',
      position: '0/16E9058',
      committedAtMs: 1_795_388_401_250,
    });
  });

  it.each<[lsn: number | string, position: string]>([
    [0, '0/0'],
    [24_023_128, '0/16E9058'],
    ['24023128', '0/16E9058'],
    [2 ** 32 - 1, '0/FFFFFFFF'],
    [2 ** 32, '1/0'],
    [97_500_059_720, '16/B374D848'],
    ['18446744073709551615', 'FFFFFFFF/FFFFFFFF'],
  ])('turns source.lsn %j into the LSN %s', (lsn, position) => {
    const event = postgres();
    Object.assign(event.payload.source, { lsn });

    expect(parseChangeEvent(event).position).toBe(position);
  });

  it.each<[what: string, lsn: number | null | undefined]>([
    ['null', null],
    ['absent', undefined],
  ])('rejects a PostgreSQL event whose source.lsn is %s and names the field', (_what, lsn) => {
    const event = postgres();
    if (lsn === undefined) delete event.payload.source.lsn;
    else event.payload.source.lsn = lsn;

    const error = thrownBy(() => parseChangeEvent(event));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      'invalid Debezium event: payload.source.lsn: required for the postgresql connector',
    );
  });

  it('reads a MySQL insert without the wrapper, turning the transaction GTID into the set up to it', () => {
    const event = parseChangeEvent(mysql());

    expect(event).toEqual({
      clusterId: 'inventory-mysql',
      engine: 'mysql',
      stream: 'debezium',
      position: `${MYSQL_UUID}:1-23`,
      committedAtMs: 1_795_388_401_000,
    });
  });

  it('reads the same MySQL insert inside the schema/payload wrapper', () => {
    const event = parseChangeEvent({ schema: { type: 'struct', fields: [] }, payload: mysql() });

    expect(event.position).toBe(`${MYSQL_UUID}:1-23`);
    expect(event.clusterId).toBe('inventory-mysql');
  });

  it('uses the binlog coordinate file:pos when MySQL runs without GTIDs', () => {
    const payload = mysql();
    payload.source.gtid = null;

    const event = parseChangeEvent(payload);

    expect(event.position).toBe('mysql-bin.000003:154');
    expect(event.engine).toBe('mysql');
  });

  // MySQL 8.4 tagged GTIDs (`uuid:tag:N`) are passed through as the single transaction N, so two
  // consecutive events are incomparable sets and the head falls back to commit times (second precision).
  it('turns a tagged MySQL GTID into the set up to that transaction', () => {
    const payload = mysql();
    payload.source.gtid = `${MYSQL_UUID}:blue:23`;

    const event = parseChangeEvent(payload);

    expect(event.position).toBe(`${MYSQL_UUID}:blue:1-23`);
  });

  it('rejects a MySQL event with neither a GTID nor a binlog coordinate', () => {
    const payload = mysql();
    payload.source.gtid = null;
    delete payload.source.file;
    delete payload.source.pos;

    const error = thrownBy(() => parseChangeEvent(payload));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      'invalid Debezium event: payload.source: the mysql connector needs gtid, or file and pos',
    );
  });

  it('reads a MariaDB insert, whose GTID is already a position', () => {
    const event = parseChangeEvent(mariadb());

    expect(event).toEqual({
      clusterId: 'stock-mariadb',
      engine: 'mariadb',
      stream: 'debezium',
      position: '0-1-42',
      committedAtMs: 1_795_388_402_000,
    });
  });

  it('uses the binlog coordinate when MariaDB gives no GTID', () => {
    const payload = mariadb();
    payload.source.gtid = null;

    expect(parseChangeEvent(payload).position).toBe('mariadb-bin.000004:1203');
  });

  it.each<[connector: string]>([['mongodb'], ['sqlserver'], ['oracle']])(
    'rejects an event of the unsupported %s connector and names it',
    (connector) => {
      const payload = mysql();
      payload.source.connector = connector;

      const error = thrownBy(() => parseChangeEvent(payload));

      expect(error).toBeInstanceOf(InvalidRecordError);
      expect(error.message).toBe(
        `invalid Debezium event: payload.source.connector: '${connector}' is not supported (postgresql, mysql, mariadb)`,
      );
    },
  );

  it('rejects a Debezium event without source.ts_ms and names it under payload', () => {
    const event = postgres();
    const source: Partial<DebeziumPayload['source']> = event.payload.source;
    delete source.ts_ms;

    const error = thrownBy(() => parseChangeEvent(event));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      "invalid change event: neither our envelope (no 'v' field) nor a Debezium event: " +
        'payload.source.ts_ms: Invalid input: expected number, received undefined',
    );
  });

  it('rejects a Debezium event whose logical name could not be a cluster id', () => {
    const payload = mysql();
    payload.source.name = 'inventory mysql';

    const error = thrownBy(() => parseChangeEvent(payload));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      "invalid change event: neither our envelope (no 'v' field) nor a Debezium event: " +
        `source.name: ${ID_RULE}`,
    );
  });

  it.each<[what: string, value: Record<string, unknown>, detail: string]>([
    [
      'an object of neither shape',
      { hello: 'world' },
      'source: Invalid input: expected object, received undefined',
    ],
    [
      'a wrapper whose payload has no source',
      { schema: {}, payload: { op: 'c', after: { id: 1 } } },
      'payload.source: Invalid input: expected object, received undefined',
    ],
  ])('rejects %s as neither our envelope nor a Debezium event', (_what, value, detail) => {
    const error = thrownBy(() => parseChangeEvent(value));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      `invalid change event: neither our envelope (no 'v' field) nor a Debezium event: ${detail}`,
    );
  });

  it('names payload itself, without a dangling dot, when the wrapper holds a null payload', () => {
    const error = thrownBy(() => parseChangeEvent({ schema: null, payload: null }));

    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error.message).toBe(
      "invalid change event: neither our envelope (no 'v' field) nor a Debezium event: " +
        'payload: Invalid input: expected object, received null',
    );
  });
});
