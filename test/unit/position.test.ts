import {
  ENGINES,
  type Engine,
  isEngine,
  type Position,
  type PositionKind,
} from '../../functions/core/position';
import { comparePositions, maxPosition, positionDistance } from '../../functions/core/position-comparison';
import { InvalidPositionError, parsePosition, positionError } from '../../functions/core/position-parsing';

const UUID_A = '3E11FA47-71CA-11E1-9E33-C80AA9429562';
const UUID_B = '8a94f357-aab4-11df-86ab-c80aa9429562';
const REPLID_1 = '8f0e2a1c3b4d5e6f708192a3b4c5d6e7f8091a2b';
const REPLID_2 = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';
const EXAMPLES: Record<Engine, string> = {
  postgresql: '16/B374D848',
  mysql: 'mysql-bin.000003:1234',
  mariadb: '0-1-100,1-2-50',
  redis: `${REPLID_1}:1234`,
  doris: '102934',
  starrocks: '102934',
  zookeeper: '0x10000002a',
  etcd: '48213',
  generic: '48213',
};

const at = (engine: Engine, raw: string): Position => parsePosition(engine, raw);

describe('parsePosition', () => {
  it.each<[Engine, string, PositionKind]>([
    ['postgresql', '0/303DD40', 'lsn'],
    ['postgresql', '16/b374d848', 'lsn'],
    ['postgresql', 'FFFFFFFF/FFFFFFFF', 'lsn'],
    ['mysql', `${UUID_A}:1-5`, 'mysql-gtid'],
    ['mysql', `${UUID_A}:1-5:7-9,${UUID_B}:1`, 'mysql-gtid'],
    ['mysql', `${UUID_A}:1-5,\n${UUID_B}:1-3`, 'mysql-gtid'],
    ['mysql', `${UUID_A.toLowerCase()}:1-5:blue:1-2`, 'mysql-gtid'],
    ['mysql', 'mysql-bin.000003:1234', 'binlog'],
    ['mysql', 'host-1.bin.000123:4', 'binlog'],
    ['mariadb', '0-1-100', 'mariadb-gtid'],
    ['mariadb', '0-1-100,1-2-50,7-3-1', 'mariadb-gtid'],
    ['mariadb', 'mariadb-bin.000003:1234', 'binlog'],
    ['redis', `${REPLID_1}:0`, 'redis'],
    ['redis', `${REPLID_1.toUpperCase()}:1234`, 'redis'],
    ['redis', '1234', 'redis'],
    ['doris', '102934', 'counter'],
    ['starrocks', '0', 'counter'],
    ['zookeeper', '4294967338', 'counter'],
    ['zookeeper', '0x10000002A', 'counter'],
    ['etcd', '48213', 'counter'],
    ['generic', '18446744073709551615', 'counter'],
  ])('parses the %s position %j as kind %s and keeps the wire string', (engine, raw, kind) => {
    const position = parsePosition(engine, raw);

    expect(position).toMatchObject({ kind, raw, engine });
    expect(positionError(engine, raw)).toBeUndefined();
  });

  it.each<[Engine, string, string]>([
    ['postgresql', '', 'is empty'],
    ['postgresql', '   ', 'is only whitespace'],
    ['postgresql', ' 0/1', 'leading or trailing whitespace'],
    ['postgresql', '0303DD40', 'has no "/"'],
    ['postgresql', '0/303DG40', 'not 1 to 8 hexadecimal digits'],
    ['postgresql', '100000000/0', 'not 1 to 8 hexadecimal digits'],
    ['postgresql', '-1/0', 'not 1 to 8 hexadecimal digits'],
    ['mysql', '', 'is empty'],
    ['mysql', 'banana', 'neither a GTID set nor a binlog coordinate'],
    ['mysql', `${UUID_A}`, 'without an interval'],
    ['mysql', `${UUID_A}:0-3`, 'start at 1'],
    ['mysql', `${UUID_A}:9-3`, 'ends before it starts'],
    ['mysql', `${UUID_A}:1-x`, 'not "n" or "n-m"'],
    ['mysql', `${UUID_A}:1-9223372036854775808`, 'beyond the maximum transaction number'],
    ['mysql', `${UUID_A}:1-5,`, 'empty element'],
    ['mysql', '3E11FA47-71CA-11E1-9E33:1-5', 'not a UUID'],
    ['mysql', 'mysql-bin.000003:-4', 'binlog offset that is negative'],
    ['mysql', 'mysql-bin.000003:99999999999999999999', 'binlog offset that exceeds the maximum'],
    ['mariadb', '0-1', 'not "domain-server-seq"'],
    ['mariadb', '0-1-100,', 'not "domain-server-seq"'],
    ['mariadb', '0-1-100,0-2-101', 'domain 0 more than once'],
    ['mariadb', '4294967296-1-1', 'domain id that exceeds the maximum'],
    ['mariadb', '0-1-18446744073709551616', 'sequence number that exceeds the maximum'],
    ['mariadb', 'gtid', 'neither a GTID position nor a binlog coordinate'],
    ['redis', 'abc:12', 'replication id of 3 characters'],
    ['redis', `zz${REPLID_1.slice(2)}:12`, 'replication id that is not hexadecimal'],
    ['redis', `${REPLID_1}:`, 'offset that is not a non-negative integer'],
    ['redis', '-1', 'offset that is negative'],
    ['doris', '-1', 'is negative'],
    ['starrocks', '12.5', 'is not a non-negative integer'],
    ['zookeeper', '0x1FFFFFFFFFFFFFFFF', 'exceeds the maximum 18446744073709551615'],
    ['zookeeper', '0xZZ', 'is not a non-negative integer'],
    ['etcd', '1e6', 'is not a non-negative integer'],
    ['generic', '18446744073709551616', 'exceeds the maximum'],
    ['generic', '1'.repeat(4097), 'longer than 4096 characters'],
  ])('rejects the %s position %j because it %s', (engine, raw, reason) => {
    const act = (): Position => parsePosition(engine, raw);

    expect(act).toThrow(InvalidPositionError);
    expect(act).toThrow(reason);
    expect(act).toThrow(`Invalid ${engine} position`);
    expect(act).toThrow(`e.g. "${EXAMPLES[engine]}"`);
    expect(positionError(engine, raw)).toContain(reason);
  });

  it('returns from positionError the same message parsePosition throws', () => {
    const raw = '0/xyz';
    let thrown: unknown;

    try {
      parsePosition('postgresql', raw);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(InvalidPositionError);
    expect(positionError('postgresql', raw)).toBe((thrown as Error).message);
  });

  it('throws an error carrying its name, engine, reason and a value cut to 80 characters', () => {
    const raw = `${'x'.repeat(200)}/0`;
    let thrown: unknown;

    try {
      parsePosition('postgresql', raw);
    } catch (error) {
      thrown = error;
    }

    expect(thrown).toBeInstanceOf(InvalidPositionError);
    const error = thrown as InvalidPositionError;
    expect(error.name).toBe('InvalidPositionError');
    expect(error.engine).toBe('postgresql');
    expect(error.reason).toBe('has a part that is not 1 to 8 hexadecimal digits');
    expect(error.value).toBe(`${'x'.repeat(80)}...`);
    expect(error.message).toContain(`"${'x'.repeat(80)}"... (202 characters)`);
    expect(error.message).not.toContain('x'.repeat(81));
  });

  it('names an engine nobody supports instead of crashing', () => {
    const message = positionError('cassandra' as Engine, '1');

    expect(message).toContain('unknown engine "cassandra"');
  });
});

describe('ENGINES and isEngine', () => {
  it.each(ENGINES.map((engine) => [engine]))('accepts %s and has an example position for it', (engine) => {
    expect(isEngine(engine)).toBe(true);
    expect(positionError(engine, EXAMPLES[engine])).toBeUndefined();
  });

  it.each([['cassandra'], [''], [42], [undefined]])('rejects %j as an engine', (value) => {
    expect(isEngine(value)).toBe(false);
  });
});

describe('comparePositions', () => {
  it.each<[string, Engine, string, string]>([
    ['LSNs written in different case', 'postgresql', '16/B374D848', '16/b374d848'],
    ['LSNs with leading zeros', 'postgresql', '0/0303DD40', '0/303DD40'],
    ['GTID sets with split intervals', 'mysql', `${UUID_A}:1-3:4-5`, `${UUID_A.toLowerCase()}:1-5`],
    [
      'GTID sets with UUIDs in another order',
      'mysql',
      `${UUID_A}:1-5,${UUID_B}:1-2`,
      `${UUID_B}:1-2,\n${UUID_A}:1-5`,
    ],
    ['GTID sets with overlapping intervals', 'mysql', `${UUID_A}:1-4:3-7`, `${UUID_A}:1-7`],
    ['MySQL binlog coordinates', 'mysql', 'mysql-bin.000003:1234', 'mysql-bin.000003:1234'],
    ['MariaDB GTIDs with domains in another order', 'mariadb', '0-1-100,1-2-50', '1-2-50,0-1-100'],
    ['MariaDB GTIDs from a different server after a failover', 'mariadb', '0-1-100', '0-2-100'],
    [
      'Redis offsets under the same replication id',
      'redis',
      `${REPLID_1}:77`,
      `${REPLID_1.toUpperCase()}:77`,
    ],
    ['a bare Redis offset and one with a replication id', 'redis', '77', `${REPLID_1}:77`],
    ['zxids in hexadecimal and decimal', 'zookeeper', '0x10000002a', '4294967338'],
    ['journal ids', 'doris', '102934', '102934'],
  ])('treats %s as equal', (_case, engine, a, b) => {
    const x = at(engine, a);
    const y = at(engine, b);

    expect(comparePositions(x, y)).toBe(0);
    expect(comparePositions(y, x)).toBe(0);
    expect(positionDistance(x, y)).toBe(0);
  });

  it.each<[string, Engine, string, string]>([
    ['LSNs within one segment', 'postgresql', '0/303DD40', '0/303DF70'],
    ['LSNs across the 32-bit boundary', 'postgresql', '0/FFFFFFFF', '1/0'],
    ['LSNs beyond 2^53', 'postgresql', 'FFFFFFFF/FFFFFFFE', 'FFFFFFFF/FFFFFFFF'],
    ['GTID sets where the later one fills a gap', 'mysql', `${UUID_A}:1-5:7-9`, `${UUID_A}:1-9`],
    ['GTID sets where the later one has another UUID', 'mysql', `${UUID_A}:1-5`, `${UUID_A}:1-5,${UUID_B}:1`],
    ['GTID sets where the later one has a tagged GTID', 'mysql', `${UUID_A}:1-5`, `${UUID_A}:1-5:blue:1`],
    ['binlog offsets in one file', 'mysql', 'mysql-bin.000003:1234', 'mysql-bin.000003:5678'],
    ['binlog files by sequence number, not offset', 'mysql', 'mysql-bin.000003:9999', 'mysql-bin.000004:4'],
    ['binlog files past 999999', 'mysql', 'mysql-bin.999999:4', 'mysql-bin.1000000:4'],
    ['MariaDB binlog coordinates', 'mariadb', 'mariadb-bin.000003:1234', 'mariadb-bin.000003:1300'],
    ['MariaDB GTIDs in one domain', 'mariadb', '0-1-100', '0-1-101'],
    ['MariaDB GTIDs across a failover that changed the server id', 'mariadb', '0-1-100', '0-2-101'],
    ['MariaDB GTIDs where the later one has an extra domain', 'mariadb', '0-1-100', '0-1-100,1-2-1'],
    ['MariaDB GTIDs ahead in one of several domains', 'mariadb', '0-1-100,1-2-50', '1-2-51,0-1-100'],
    ['Redis offsets under one replication id', 'redis', `${REPLID_1}:100`, `${REPLID_1}:101`],
    ['bare Redis offsets', 'redis', '100', '2000'],
    ['a bare Redis offset against one with a replication id', 'redis', '100', `${REPLID_2}:101`],
    ['Doris journal ids', 'doris', '9', '10'],
    ['StarRocks journal ids', 'starrocks', '102934', '102935'],
    ['zxids across an epoch change', 'zookeeper', '0xFFFFFFFF', '0x100000000'],
    ['etcd revisions', 'etcd', '48213', '48214'],
    ['offsets beyond 2^53', 'generic', '9007199254740993', '9007199254740994'],
  ])('orders %s', (_case, engine, lower, higher) => {
    const low = at(engine, lower);
    const high = at(engine, higher);

    expect(comparePositions(low, high)).toBe(-1);
    expect(comparePositions(high, low)).toBe(1);
  });

  it.each<[string, Engine, string, Engine, string]>([
    ['GTID sets where neither contains the other', 'mysql', `${UUID_A}:1-5`, 'mysql', `${UUID_A}:1-4:6`],
    ['GTID sets from different sources', 'mysql', `${UUID_A}:1-5`, 'mysql', `${UUID_B}:1-5`],
    ['a GTID set and a binlog coordinate', 'mysql', `${UUID_A}:1-5`, 'mysql', 'mysql-bin.000003:4'],
    [
      'binlog coordinates with different base names',
      'mysql',
      'db1-bin.000003:4',
      'mysql',
      'db2-bin.000003:9',
    ],
    ['MariaDB GTIDs each ahead in one domain', 'mariadb', '0-1-100,1-2-50', 'mariadb', '0-1-99,1-2-51'],
    ['MariaDB GTIDs in disjoint domains', 'mariadb', '0-1-100', 'mariadb', '1-1-100'],
    ['a MariaDB GTID and a binlog coordinate', 'mariadb', '0-1-100', 'mariadb', 'mariadb-bin.000001:4'],
    [
      'Redis offsets across a promotion (new replication id)',
      'redis',
      `${REPLID_1}:5000`,
      'redis',
      `${REPLID_2}:10`,
    ],
    ['the same binlog coordinate from MySQL and MariaDB', 'mysql', 'bin.000001:4', 'mariadb', 'bin.000001:4'],
    ['counters of different engines', 'doris', '10', 'etcd', '10'],
  ])('finds %s not comparable', (_case, engineA, rawA, engineB, rawB) => {
    const a = at(engineA, rawA);
    const b = at(engineB, rawB);

    expect(comparePositions(a, b)).toBeUndefined();
    expect(comparePositions(b, a)).toBeUndefined();
    expect(positionDistance(a, b)).toBeUndefined();
    expect(positionDistance(b, a)).toBeUndefined();
  });
});

describe('positionDistance', () => {
  it.each<[string, Engine, string, string, number]>([
    ['bytes of WAL', 'postgresql', '0/303DF70', '0/303DD40', 0x230],
    ['one byte across the 32-bit boundary', 'postgresql', '1/0', '0/FFFFFFFF', 1],
    ['bytes of WAL over several 4 GiB units', 'postgresql', '16/B374D848', '15/B374D848', 2 ** 32],
    ['transactions in the gap a GTID set fills', 'mysql', `${UUID_A}:1-9`, `${UUID_A}:1-5:7-9`, 1],
    [
      'transactions over several UUIDs and gaps',
      'mysql',
      `${UUID_A}:1-10:20-30,${UUID_B}:1-100`,
      `${UUID_A}:1-5:20-25,${UUID_B}:1-90:95`,
      5 + 5 + 9,
    ],
    ['transactions of a UUID the other lacks', 'mysql', `${UUID_A}:1-5,${UUID_B}:3-4`, `${UUID_A}:1-5`, 2],
    ['bytes within one binlog file', 'mysql', 'mysql-bin.000003:5678', 'mysql-bin.000003:1234', 4444],
    [
      'bytes within one MariaDB binlog file',
      'mariadb',
      'mariadb-bin.000003:1300',
      'mariadb-bin.000003:1234',
      66,
    ],
    ['seq_no over several domains', 'mariadb', '0-2-110,1-2-55,2-1-7', '0-1-100,1-2-50', 10 + 5 + 7],
    ['Redis offset units', 'redis', `${REPLID_1}:5000`, `${REPLID_1}:4000`, 1000],
    ['Redis offset units from a bare offset', 'redis', '5000', `${REPLID_1}:4000`, 1000],
    ['journal ids', 'starrocks', '102940', '102934', 6],
    ['zxids', 'zookeeper', '0x100000002', '0x0FFFFFFFF', 3],
    ['offsets', 'generic', '48213', '48000', 213],
  ])('measures %s', (_case, engine, ahead, behind, expected) => {
    expect(positionDistance(at(engine, ahead), at(engine, behind))).toBe(expected);
  });

  it.each<[string, Engine, string, string]>([
    ['an LSN behind', 'postgresql', '0/FFFFFFFF', '1/0'],
    ['a GTID subset', 'mysql', `${UUID_A}:1-5`, `${UUID_A}:1-9`],
    ['an earlier binlog file', 'mysql', 'mysql-bin.000003:9999', 'mysql-bin.000004:4'],
    ['a MariaDB position behind', 'mariadb', '0-1-100', '0-1-100,1-1-3'],
    ['a Redis offset behind', 'redis', `${REPLID_1}:4000`, `${REPLID_1}:5000`],
    ['a counter behind', 'etcd', '1', '2'],
  ])('returns 0 for %s', (_case, engine, ahead, behind) => {
    expect(positionDistance(at(engine, ahead), at(engine, behind))).toBe(0);
  });

  it('does not measure bytes between two binlog files', () => {
    const ahead = at('mysql', 'mysql-bin.000004:4');
    const behind = at('mysql', 'mysql-bin.000003:1234');

    expect(comparePositions(ahead, behind)).toBe(1);
    expect(positionDistance(ahead, behind)).toBeUndefined();
  });
});

describe('maxPosition', () => {
  it('returns undefined for an empty list', () => {
    expect(maxPosition([])).toBeUndefined();
  });

  it('returns undefined when every entry is undefined', () => {
    expect(maxPosition([undefined, undefined])).toBeUndefined();
  });

  it.each<[string, Engine, (string | undefined)[], string]>([
    [
      'the greatest LSN, skipping missing entries',
      'postgresql',
      [undefined, '0/FFFFFFFF', '1/0', '0/5'],
      '1/0',
    ],
    ['the first of equal positions', 'postgresql', ['0/A', '0/a'], '0/A'],
    [
      'the GTID superset',
      'mysql',
      [`${UUID_A}:1-3`, `${UUID_A}:1-5,${UUID_B}:1`, `${UUID_A}:1-4`],
      `${UUID_A}:1-5,${UUID_B}:1`,
    ],
    ['the first of incomparable GTID sets', 'mysql', [`${UUID_A}:1-5`, `${UUID_B}:1-9`], `${UUID_A}:1-5`],
    [
      'the first of MariaDB positions each ahead in a domain',
      'mariadb',
      ['0-1-5,1-1-1', '0-1-4,1-1-2'],
      '0-1-5,1-1-1',
    ],
    [
      'the old primary offset when the promoted one has a new replication id',
      'redis',
      [`${REPLID_1}:5000`, `${REPLID_2}:10`, `${REPLID_1}:4000`],
      `${REPLID_1}:5000`,
    ],
    [
      'a later comparable position after an incomparable one',
      'redis',
      [`${REPLID_1}:5000`, `${REPLID_2}:10`, `${REPLID_1}:6000`],
      `${REPLID_1}:6000`,
    ],
    ['the greatest zxid, decimal or hexadecimal', 'zookeeper', ['0x10', '17', '0x12', '18'], '0x12'],
  ])('picks %s', (_case, engine, raws, expected) => {
    const positions = raws.map((raw) => (raw === undefined ? undefined : at(engine, raw)));

    expect(maxPosition(positions)?.raw).toBe(expected);
  });
});
