/**
 * `npm run bench -- switchover [--runs N] [--engine redis|postgresql]`: a planned switchover under a
 * steady stream of writes, ours beside the tools operators use for it, in the same run on the same machine.
 *
 * Redis (a primary and two replicas on loopback ports, fresh for every run of every contender):
 * - ours: the cluster watched by `watch` (every second, the demo's policy, mode auto) through the local stack,
 *   the switchover asked on its operator API (`POST /clusters/{id}/switchover`, as `replica-sentinel
 *   switchover` does) to the second replica, timed to the end of the primary-switchover runbook;
 * - Redis's own `FAILOVER TO <host> <port>` sent to the primary, for the same replica;
 * - `SENTINEL FAILOVER` on one of three sentinels watching the topology (Sentinel picks the replica).
 * PostgreSQL (a primary and a streaming standby): ours the same way, beside `patronictl switchover` on a
 * Patroni pair (bench/patroni.ts).
 *
 * The client is bench/switchover-writer.ts, in a process of its own: one write at a time, as fast as the
 * server answers, following the writable node. Metrics, per run:
 * - write-unavailability window: from the sending of the first write that was refused or failed (or, when
 *   none failed, the write held longest) to the first write acknowledged by the new primary;
 * - acknowledged writes lost: every acknowledged key or row is read back from the new primary at the end,
 *   once the switchover is over and the old primary follows the new one (or is out of the way).
 * Median and nearest-rank p95 of the windows, the sum of lost writes; the table's ratios are ours against
 * each baseline ("times better": above 1, ours wins).
 */
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { documentClient } from '../functions/adapters/clients';
import { ClusterConfigSchema } from '../functions/core/config/schema';
import type { Engine } from '../functions/core/position';
import { LOCAL_AWS } from '../local/dynamodb-local';
import { type LocalStack, startLocalStack } from '../local/local-stack';
import { startPostgresPair } from '../local/postgres-servers';
import { DEMO_POLICY } from '../local/redis-demo';
import { follows, redisCommand, redisInfo, startRedisTopology } from '../local/redis-servers';
import { loadRunbookDefinitions } from '../local/runbook-definitions';
import { type ServerNode, stopOnSignals, waitFor } from '../local/server-processes';
import { localSink, watch } from '../local/watch';
import { medianAndP95, type Sentinels, startSentinels } from './detection';
import { PATRONI_INSTALL, type PatroniSettings, patroniInstalled, startPatroniPair } from './patroni';
import { runsAndEngines } from './runs-and-engines';
import { measureRun, type SwitchoverRun } from './switchover-window';
import type { WriterConfig, WriterNode, WriterRecord } from './switchover-writer';
import type { BenchRow } from './table';

const INTERVAL_MS = DEMO_POLICY.heartbeatIntervalSeconds * 1000;
const TABLE = 'bench_switchover';
const POLL_MS = 50;
/** How often a switchover refused on fresh state is asked again. */
const MAX_ATTEMPTS = 3;
/**
 * Our cluster's policy: the demo's, with a heartbeat timeout and stall delay of 10 s: a switchover's speed does
 * not depend on them, and on a loaded machine the demo's 3 s would let a late heartbeat refuse the request.
 */
const POLICY = { ...DEMO_POLICY, heartbeatTimeoutSeconds: 10, stallAfterSeconds: 10 } as const;
/** Patroni's knobs as in the detection benchmark (ttl = our heartbeat timeout, loop_wait = our interval). */
const PATRONI: PatroniSettings = {
  ttlSeconds: DEMO_POLICY.heartbeatTimeoutSeconds,
  loopWaitSeconds: DEMO_POLICY.heartbeatIntervalSeconds,
  retryTimeoutSeconds: 2,
};

/** The writer process (bench/switchover-writer.ts), writing until stop(). */
class Writer {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  readonly #record: Promise<WriterRecord>;
  constructor(config: WriterConfig, onProcess: (pid: number) => void) {
    this.#child = fork(
      fileURLToPath(new URL('./switchover-writer.ts', import.meta.url)),
      [JSON.stringify(config)],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    if (this.#child.pid !== undefined) onProcess(this.#child.pid);
    const exited = new Promise<never>((_, reject) =>
      this.#child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it reported`))),
    );
    exited.catch(() => undefined);
    this.#ready = Promise.race([
      new Promise<void>((resolve) => this.#child.once('message', () => resolve())),
      exited,
    ]);
    this.#record = Promise.race([
      new Promise<WriterRecord>((resolve) =>
        this.#child.on('message', (message) => {
          if (typeof message === 'object' && message !== null) resolve(message as WriterRecord);
        }),
      ),
      exited,
    ]);
    // Killed after a failed run, it reports nothing: that is no second error.
    this.#ready.catch(() => undefined);
    this.#record.catch(() => undefined);
  }
  ready(): Promise<void> {
    return this.#ready;
  }
  async stop(): Promise<WriterRecord> {
    this.#child.send('stop');
    return this.#record;
  }
  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}

/** Redis: the acknowledged keys present on `node` (MGET in chunks). */
async function redisPresent(node: ServerNode, record: WriterRecord): Promise<Set<number>> {
  const present = new Set<number>();
  const seqs = record.acked.map(([seq]) => seq);
  for (let i = 0; i < seqs.length; i += 1000) {
    const chunk = seqs.slice(i, i + 1000);
    const values = (await redisCommand(node, ['MGET', ...chunk.map((s) => `bench:${s}`)])) as unknown[];
    chunk.forEach((seq, j) => {
      if (values[j] !== null) present.add(seq);
    });
  }
  return present;
}

/** Runs one SQL statement on a PostgreSQL node (as postgres) and closes the connection. */
async function sql<R extends pg.QueryResultRow>(node: WriterNode, text: string): Promise<R[]> {
  const client = new pg.Client({
    host: node.host,
    port: node.port,
    user: 'postgres',
    database: 'postgres',
    connectionTimeoutMillis: 2000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresPresent(node: WriterNode): Promise<Set<number>> {
  const rows = await sql<{ seq: string }>(node, `SELECT seq FROM ${TABLE}`);
  return new Set(rows.map((r) => Number(r.seq)));
}

const dbsize = async (node: ServerNode) => Number(await redisCommand(node, ['DBSIZE']));
const role = async (node: ServerNode) => (await redisInfo(node)).get('role');
const rowCount = async (node: WriterNode) =>
  Number((await sql<{ n: string }>(node, `SELECT count(*) AS n FROM ${TABLE}`))[0]?.n ?? 0);

export async function benchSwitchover(args: readonly string[] = []): Promise<BenchRow[]> {
  const { runs, engines } = runsAndEngines(args);

  /** The runbook's step records of each of our runs (step → when it was recorded), by engine. */
  const stepTimes: Record<string, Map<string, number>[]> = {};
  const children: number[] = [];
  const writers = new Set<Writer>();
  const stop = stopOnSignals({
    what: 'the switchover benchmark',
    say: console.error,
    children: () => children,
  });
  const signal = stop.signal;
  let stack: LocalStack | undefined;
  const localStack = async () => {
    if (stack === undefined) {
      await loadRunbookDefinitions();
      stack = await startLocalStack({
        port: 0,
        sweepIntervalMs: INTERVAL_MS,
        pollIntervalMs: 200,
        print: () => undefined,
      });
      if (stack.dynamodbPid !== undefined) children.push(stack.dynamodbPid);
    }
    return stack;
  };
  const startWriter = async (config: WriterConfig) => {
    const writer = new Writer(config, (pid) => children.push(pid));
    writers.add(writer);
    await writer.ready();
    return writer;
  };

  /**
   * Ours on `nodes` (the first one the primary): the cluster applied and watched through the local stack,
   * HEALTHY, then the switchover to `to` asked on the operator API while `writing` runs; resolves when the
   * runbook ended (it must have switched over), with when it was asked.
   */
  async function oursSwitchover(
    run: number,
    engine: Engine,
    nodes: readonly ServerNode[],
    to: ServerNode,
    writing: () => Promise<Writer>,
  ): Promise<{ writer: Writer; startedAt: number; stopWatch: () => Promise<void> }> {
    stepTimes[engine] ??= [];
    const stepsOf = stepTimes[engine];
    const local = await localStack();
    const clusterId = `bench-switchover-${engine}-${run}`;
    const client = documentClient({ ...LOCAL_AWS, endpoint: local.dynamodbEndpoint });
    const watching = new AbortController();
    const config = ClusterConfigSchema.parse({
      clusters: [
        {
          id: clusterId,
          engine,
          mode: 'auto',
          nodes: nodes.map((node) => ({ id: node.nodeId, url: node.endpoint.url })),
          policy: POLICY,
        },
      ],
    });
    const done = watch({
      config,
      client,
      tableName: local.tableName,
      sink: localSink(local.url),
      intervalMs: INTERVAL_MS,
      signal: watching.signal,
      print: () => undefined,
    }).catch((error: Error) => console.error(`  ours run ${run}: watch stopped: ${error.message}`));
    const stopWatch = async () => {
      watching.abort();
      await done;
      client.destroy();
    };
    const healthy = () =>
      waitFor(
        `every ${engine} node HEALTHY`,
        async () => {
          const response = await fetch(`${local.url}/status?cluster=${clusterId}`);
          const { nodes: states } = (await response.json()) as { nodes: { status: string }[] };
          return states.length === nodes.length && states.every((s) => s.status === 'HEALTHY');
        },
        { timeoutMs: 60_000, intervalMs: 200, signal },
      );
    try {
      await healthy();
      const writer = await writing();
      let startedAt = 0;
      let outcome = '';
      let steps: { at: number; step: string }[] = [];
      // A request the runbook refuses on fresh state (a node not HEALTHY at that moment: a loaded machine
      // delays a heartbeat) touched nothing: asked again once all are HEALTHY, as an operator would.
      for (let attempt = 1; ; attempt++) {
        startedAt = Date.now();
        const response = await fetch(`${local.url}/clusters/${clusterId}/switchover`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-replica-sentinel-user': 'bench' },
          body: JSON.stringify({ to: to.nodeId, reason: 'switchover benchmark' }),
        });
        const asked = (await response.json()) as { incidentId?: string; message?: string };
        if (asked.incidentId === undefined) {
          if (response.status !== 409 || attempt >= MAX_ATTEMPTS)
            throw new Error(`the switchover was refused: ${asked.message ?? response.status}`);
        } else {
          await waitFor(
            `the switchover ${asked.incidentId} to end`,
            async () => {
              const list = (await (await fetch(`${local.url}/incidents?cluster=${clusterId}`)).json()) as {
                incidents: {
                  incidentId: string;
                  state: string;
                  outcome?: string;
                  runbookSteps?: typeof steps;
                }[];
              };
              const incident = list.incidents.find((i) => i.incidentId === asked.incidentId);
              if (incident === undefined || incident.state === 'OPEN') return false;
              outcome = incident.outcome ?? incident.state;
              steps = incident.runbookSteps ?? [];
              return true;
            },
            { timeoutMs: 120_000, intervalMs: POLL_MS, signal },
          );
          if (!outcome.startsWith('switchover refused') || attempt >= MAX_ATTEMPTS) break;
        }
        console.error(`  ours run ${run} (${engine}): refused (${asked.message ?? outcome}); asking again`);
        await healthy();
      }
      if (!outcome.startsWith('switched over')) throw new Error(`ours run ${run}: ${outcome}`);
      stepsOf.push(new Map(steps.map((s) => [s.step, s.at])));
      console.error(
        `  ours run ${run} (${engine}) steps: ${steps.map((s) => `${s.step} +${s.at - startedAt}`).join(', ')}`,
      );
      return { writer, startedAt, stopWatch };
    } catch (error) {
      await stopWatch();
      throw error;
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // Redis

  type RedisContender = 'ours' | 'FAILOVER' | 'SENTINEL FAILOVER';

  async function redisRun(contender: RedisContender, run: number): Promise<SwitchoverRun> {
    const prefix = { ours: 'ours', FAILOVER: 'failover', 'SENTINEL FAILOVER': 'sentinel' }[contender];
    const redis = await startRedisTopology({ replicas: 2, prefix: `${prefix}${run}-redis` });
    for (const node of [redis.primary, ...redis.replicas]) children.push(node.pid);
    const nodes = [redis.primary, ...redis.replicas];
    const target = redis.replicas[redis.replicas.length - 1] as ServerNode;
    const writing = async () => {
      const writer = await startWriter({ engine: 'redis', nodes });
      await waitFor('the writer to get going', async () => (await dbsize(redis.primary)) >= 200, {
        timeoutMs: 30_000,
        intervalMs: POLL_MS,
        signal,
      });
      return writer;
    };
    let sentinels: Sentinels | undefined;
    let writer: Writer | undefined;
    let stopWatch: (() => Promise<void>) | undefined;
    try {
      let startedAt: number;
      let promoted: ServerNode | undefined;
      if (contender === 'ours') {
        ({ writer, startedAt, stopWatch } = await oursSwitchover(run, 'redis', nodes, target, writing));
        promoted = target;
      } else if (contender === 'FAILOVER') {
        writer = await writing();
        startedAt = Date.now();
        await redisCommand(redis.primary, ['FAILOVER', 'TO', target.host, String(target.port)]);
        promoted = target;
      } else {
        sentinels = await startSentinels(redis, `sentinel${run}`, signal);
        for (const node of sentinels.nodes) children.push(node.pid);
        writer = await writing();
        startedAt = Date.now();
        await redisCommand(sentinels.nodes[0] as ServerNode, ['SENTINEL', 'FAILOVER', 'primary']);
      }
      // Over: a replica is the master and the old primary follows it (FAILOVER leaves the other replica under
      // the old primary, a replica of a replica; ours and Sentinel repoint it).
      await waitFor(
        `${contender} to promote a replica and demote the old primary`,
        async () => {
          for (const candidate of promoted ? [promoted] : redis.replicas) {
            if ((await role(candidate)) !== 'master') continue;
            if (!(await follows(redis.primary, candidate))) return false;
            promoted = candidate;
            return true;
          }
          return false;
        },
        { timeoutMs: 120_000, intervalMs: POLL_MS, signal },
      );
      const newPrimary = promoted as ServerNode;
      const before = await dbsize(newPrimary);
      await waitFor(
        'the writer to write to the new primary',
        async () => (await dbsize(newPrimary)) >= before + 200,
        { timeoutMs: 60_000, intervalMs: POLL_MS, signal },
      );
      const record = await writer.stop();
      writers.delete(writer);
      const result = measureRun(record, startedAt, newPrimary.port, await redisPresent(newPrimary, record));
      console.error(
        `  ${contender} run ${run} (redis): ${newPrimary.nodeId} took over; window ${result.windowMs} ms ` +
          `(${result.from}), ${result.acked} acknowledged, ${result.lost} lost`,
      );
      return result;
    } finally {
      writer?.kill();
      if (writer) writers.delete(writer);
      await stopWatch?.();
      await sentinels?.stop();
      await redis.stop();
    }
  }

  // ------------------------------------------------------------------------------------------------------
  // PostgreSQL

  type PostgresContender = 'ours' | 'patronictl switchover';

  async function postgresRun(contender: PostgresContender, run: number): Promise<SwitchoverRun> {
    let writer: Writer | undefined;
    let stopWatch: (() => Promise<void>) | undefined;
    const stops: (() => Promise<void>)[] = [];
    const writing = (nodes: readonly WriterNode[]) => async () => {
      const w = await startWriter({ engine: 'postgresql', nodes, table: TABLE });
      await waitFor('the writer to get going', async () => (await rowCount(nodes[0] as WriterNode)) >= 100, {
        timeoutMs: 30_000,
        intervalMs: POLL_MS,
        signal,
      });
      return w;
    };
    try {
      let startedAt: number;
      let newPrimary: WriterNode;
      if (contender === 'ours') {
        const pair = await startPostgresPair();
        stops.push(() => pair.stop());
        for (const node of [pair.primary, pair.replica]) children.push(node.pid);
        await sql(pair.primary, `CREATE TABLE ${TABLE} (seq bigint PRIMARY KEY)`);
        ({ writer, startedAt, stopWatch } = await oursSwitchover(
          run,
          'postgresql',
          [pair.primary, pair.replica],
          pair.replica,
          writing([pair.primary, pair.replica]),
        ));
        newPrimary = pair.replica;
      } else {
        const pair = await startPatroniPair(run, PATRONI, signal, 'patroni-switchover');
        stops.push(() => pair.stop());
        children.push(pair.leader.process.pid, pair.standby.process.pid);
        await sql(pair.leader, `CREATE TABLE ${TABLE} (seq bigint PRIMARY KEY)`);
        // The table reaches the standby before the writer starts.
        await waitFor(
          'the table on the standby',
          async () => (await rowCount(pair.standby).catch(() => -1)) >= 0,
          { timeoutMs: 30_000, intervalMs: POLL_MS, signal },
        );
        writer = await writing([pair.leader, pair.standby])();
        startedAt = Date.now();
        await promisify(execFile)('patronictl', [
          '-c',
          pair.config(pair.leader),
          'switchover',
          '--leader',
          pair.leader.name,
          '--candidate',
          pair.standby.name,
          '--force',
          pair.scope,
        ]);
        newPrimary = pair.standby;
      }
      const target = newPrimary;
      const before = await rowCount(target).catch(() => 0);
      await waitFor(
        'the writer to write to the new primary',
        async () => (await rowCount(target)) >= before + 100,
        { timeoutMs: 120_000, intervalMs: POLL_MS, signal },
      );
      const record = await writer.stop();
      writers.delete(writer);
      const result = measureRun(record, startedAt, target.port, await postgresPresent(target));
      console.error(
        `  ${contender} run ${run} (postgresql): window ${result.windowMs} ms (${result.from}), ` +
          `${result.acked} acknowledged, ${result.lost} lost`,
      );
      return result;
    } finally {
      writer?.kill();
      if (writer) writers.delete(writer);
      await stopWatch?.();
      for (const s of stops.reverse()) await s();
    }
  }

  // ------------------------------------------------------------------------------------------------------

  const rows: BenchRow[] = [];
  const lines: string[] = [];
  const summarize = (engine: string, results: Map<string, SwitchoverRun[]>) => {
    const ours = results.get('ours') ?? [];
    const our = medianAndP95(ours.map((r) => r.windowMs));
    const ourLost = ours.reduce((sum, r) => sum + r.lost, 0);
    const ourAcked = ours.reduce((sum, r) => sum + r.acked, 0);
    lines.push(
      `switchover on ${engine}, ${runs} run(s) each: write-unavailability window and acknowledged writes lost`,
    );
    for (const [name, list] of results) {
      const stats = medianAndP95(list.map((r) => r.windowMs));
      const lost = list.reduce((sum, r) => sum + r.lost, 0);
      const acked = list.reduce((sum, r) => sum + r.acked, 0);
      lines.push(
        `  ${name.padEnd(22)} window median ${stats.median} ms, p95 ${stats.p95} ms; lost ${lost} of ${acked} acknowledged`,
      );
      if (name === 'ours') continue;
      const scenario = `${engine === 'redis' ? 'Redis primary + 2 replicas' : 'PostgreSQL primary + standby'}, planned switchover under writes; baseline: ${name}`;
      const row = (metric: string, value: number, base: number): BenchRow => ({
        benchmark: 'switchover',
        scenario,
        metric,
        ours: value,
        baseline: base,
        better: 'lower',
      });
      rows.push(
        row('write-unavailability window, ms (median)', our.median, stats.median),
        row('write-unavailability window, ms (p95)', our.p95, stats.p95),
        row(`acknowledged writes lost (of ${ourAcked} / ${acked})`, ourLost, lost),
      );
    }
    // Where our window goes: the time between the records of the steps that run while writes are stopped.
    const pairs = [
      ['AwaitCatchUp', 'writes-stopped', 'caught-up'],
      ['Promote', 'caught-up', 'promoted'],
      ['UpdateCluster', 'promoted', 'cluster-updated'],
      ['DemoteOld', 'cluster-updated', 'old-primary'],
    ] as const;
    const spans = pairs.map(([name, from, to]) => {
      const ms = (stepTimes[engine] ?? []).flatMap((times) => {
        const a = times.get(from);
        const b = times.get(to);
        return a === undefined || b === undefined ? [] : [b - a];
      });
      return ms.length === 0 ? `${name} -` : `${name} ${medianAndP95(ms).median} ms`;
    });
    lines.push(`  ours, median time of each step after writes stopped: ${spans.join(', ')}`, '');
  };

  try {
    if (engines.includes('redis')) {
      const results = new Map<string, SwitchoverRun[]>([
        ['ours', []],
        ['FAILOVER', []],
        ['SENTINEL FAILOVER', []],
      ]);
      for (let run = 1; run <= runs; run++)
        for (const contender of ['ours', 'FAILOVER', 'SENTINEL FAILOVER'] as const)
          results.get(contender)?.push(await redisRun(contender, run));
      summarize('redis', results);
    }
    if (engines.includes('postgresql')) {
      const patroni = patroniInstalled();
      if (!patroni)
        console.error(
          `  Patroni or etcd is not installed (${PATRONI_INSTALL}): the PostgreSQL baseline is skipped`,
        );
      const results = new Map<string, SwitchoverRun[]>([['ours', []]]);
      if (patroni) results.set('patronictl switchover', []);
      for (let run = 1; run <= runs; run++) {
        results.get('ours')?.push(await postgresRun('ours', run));
        if (patroni)
          results.get('patronictl switchover')?.push(await postgresRun('patronictl switchover', run));
      }
      summarize('postgresql', results);
    }
  } catch (error) {
    if (signal.aborted) throw new Error('the switchover benchmark was interrupted; its servers are stopped');
    throw error;
  } finally {
    for (const writer of writers) writer.kill();
    await stack?.stop();
    stop.dispose();
  }
  console.log(lines.join('\n'));
  return rows;
}
