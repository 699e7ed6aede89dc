/**
 * `npm run bench -- detection [--runs N]`: how fast the product catches a stalled Redis replica and fails
 * over a killed primary, on real servers, beside Redis Sentinel failing over the same topology after the
 * same kill, in the same run.
 *
 * Ours: N runs of the real-Redis demo (`runRedisDemo`): from the CLIENT PAUSE to STALLED, and from the
 * SIGKILL of the primary to the promoted replica confirmed by its own INFO replication (the other replica
 * following it, link up).
 * Sentinel: N runs of a fresh primary + 2 replicas watched by three sentinels (quorum 2,
 * down-after-milliseconds = the demo's heartbeat timeout), the primary SIGKILLed the same way, timed until a
 * replica reports role:master and the other follows it (polled every 100 ms, as the demo polls). Sentinel
 * has no notion of a stalled replica, so the stall has no baseline.
 *
 * PostgreSQL (`--engine postgresql`; both engines by default): N runs of ours on a primary + standby
 * (bench/postgres-ours.ts) beside N runs of Patroni on the same kind of pair (bench/patroni.ts, `ttl` = our
 * heartbeat timeout, `loop_wait` 1 s), every PostgreSQL process of the primary SIGKILLed (and Patroni's
 * own process on that node, or it would restart PostgreSQL in place), timed until the standby is a writable
 * primary. Without Patroni installed, ours is measured and the baseline is skipped with how to install it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../local/dynamodb-local';
import { DEMO_POLICY, runRedisDemo } from '../local/redis-demo';
import {
  follows,
  type RedisTopology,
  redisInfo,
  redisNode,
  startRedisTopology,
} from '../local/redis-servers';
import {
  commandOnPath,
  LOOPBACK,
  ProcessGroup,
  type ServerNode,
  stopOnSignals,
  waitFor,
} from '../local/server-processes';
import { PATRONI_INSTALL, patroniFailover, patroniInstalled } from './patroni';
import { oursPostgresFailover } from './postgres-ours';
import { runsAndEngines } from './runs-and-engines';
import type { BenchRow } from './table';

const DOWN_AFTER_MS = DEMO_POLICY.heartbeatTimeoutSeconds * 1000;
const QUORUM = 2;
const SENTINELS = 3;
const POLL_MS = 100;
/**
 * Patroni's knobs, set to ours: ttl = our heartbeat timeout, loop_wait = our heartbeat interval.
 * retry_timeout 2 s: Patroni's etcd client wants at least 1 s per request, and with 1 s the standby never
 * reached etcd once the leader was gone here; Patroni accepts 2 s with ttl 3 s (its guide asks for
 * loop_wait + 2 × retry_timeout ≤ ttl, which a 3 s ttl cannot meet with a working retry_timeout).
 */
const PATRONI = {
  ttlSeconds: DEMO_POLICY.heartbeatTimeoutSeconds,
  loopWaitSeconds: DEMO_POLICY.heartbeatIntervalSeconds,
  retryTimeoutSeconds: 2,
};

/** Median and nearest-rank p95 (with 5 runs, p95 is the slowest run). */
export function medianAndP95(values: readonly number[]): { median: number; p95: number } {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('no measurements');
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] ?? 0;
  return { median, p95 };
}

/** `redis-sentinel <conf>` when installed (Debian package redis-sentinel), else `redis-server <conf> --sentinel`. */
function sentinelCommand(conf: string): [string, string[]] {
  const sentinel = commandOnPath('redis-sentinel');
  if (sentinel !== undefined) return [sentinel, [conf]];
  const server = commandOnPath('redis-server');
  if (server === undefined)
    throw new Error('redis-server is not installed: `sudo apt-get install -y redis-server`');
  return [server, [conf, '--sentinel']];
}

/** Sentinels watching a Redis topology, ready; `stop()` stops them and removes their directories. */
export interface Sentinels {
  readonly nodes: readonly ServerNode[];
  stop(): Promise<void>;
}

/**
 * {@link SENTINELS} sentinels monitoring `redis.primary` as `primary` (quorum {@link QUORUM},
 * down-after-milliseconds {@link DOWN_AFTER_MS}), each in its own directory on a free loopback port; resolves
 * once every sentinel sees every replica and the other sentinels (hello messages every 2 s).
 */
export async function startSentinels(
  redis: RedisTopology,
  prefix: string,
  signal: AbortSignal,
): Promise<Sentinels> {
  const sentinels = new ProcessGroup();
  try {
    const nodes: ServerNode[] = [];
    for (let i = 1; i <= SENTINELS; i++) {
      const nodeId = `${prefix}-${i}`;
      const dir = sentinels.dir(nodeId, undefined);
      const port = await freePort();
      // Sentinel rewrites its configuration file: it lives in the sentinel's own directory.
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          `port ${port}`,
          `bind ${LOOPBACK}`,
          'daemonize no',
          `dir ${dir}`,
          `sentinel monitor primary ${redis.primary.host} ${redis.primary.port} ${QUORUM}`,
          `sentinel down-after-milliseconds primary ${DOWN_AFTER_MS}`,
          'sentinel parallel-syncs primary 2',
          '',
        ].join('\n'),
      );
      const [command, args] = sentinelCommand(conf);
      const managed = sentinels.start(nodeId, command, args, { dir, owner: undefined });
      nodes.push(redisNode(nodeId, port, managed.pid, dir));
    }
    const replicas = redis.replicas.length;
    await waitFor(
      'the sentinels to discover the replicas and each other',
      async () => {
        for (const sentinel of nodes) {
          // master0:name=primary,status=ok,address=127.0.0.1:P,slaves=2,sentinels=3
          const master = (await redisInfo(sentinel, 'sentinel')).get('master0') ?? '';
          if (!master.includes(`,slaves=${replicas},`) || !master.endsWith(`,sentinels=${SENTINELS}`))
            return false;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 200, signal },
    );
    return { nodes, stop: () => sentinels.stop() };
  } catch (error) {
    await sentinels.stop();
    throw error;
  }
}

/** One Sentinel failover: a fresh topology, three sentinels, SIGKILL of the primary; ms until confirmed. */
async function sentinelFailover(run: number, signal: AbortSignal): Promise<number> {
  const redis = await startRedisTopology({ replicas: 2, prefix: `sentinel${run}-redis` });
  let sentinels: Sentinels | undefined;
  try {
    sentinels = await startSentinels(redis, `sentinel${run}`, signal);
    await redis.kill(redis.primary);
    const killAt = Date.now();
    let promoted: ServerNode | undefined;
    await waitFor(
      'Sentinel to promote a replica and repoint the other',
      async () => {
        for (const candidate of redis.replicas) {
          if ((await redisInfo(candidate)).get('role') !== 'master') continue;
          const others = redis.replicas.filter((node) => node !== candidate);
          for (const other of others) if (!(await follows(other, candidate))) return false;
          promoted = candidate;
          return true;
        }
        return false;
      },
      { timeoutMs: 120_000, intervalMs: POLL_MS, signal },
    );
    const elapsed = Date.now() - killAt;
    console.error(`  sentinel run ${run}: ${promoted?.nodeId} promoted and followed after ${elapsed} ms`);
    return elapsed;
  } finally {
    await sentinels?.stop();
    await redis.stop();
  }
}

export async function benchDetection(args: readonly string[] = []): Promise<BenchRow[]> {
  const { runs, engines } = runsAndEngines(args);

  const stall: number[] = [];
  const failover: number[] = [];
  const sentinel: number[] = [];
  // Ctrl-C, `kill`, a CI cancel: the run in progress stops its servers (a second signal kills them at once).
  const children: number[] = [];
  const stop = stopOnSignals({
    what: 'the detection benchmark',
    say: console.error,
    children: () => children,
  });
  const rows: BenchRow[] = [];
  try {
    if (engines.includes('redis')) {
      for (let run = 1; run <= runs; run++) await measure(run);
      rows.push(...redisRows());
    }
    if (engines.includes('postgresql')) rows.push(...(await postgresRows()));
  } catch (error) {
    if (stop.signal.aborted)
      throw new Error('the detection benchmark was interrupted; its servers are stopped');
    throw error;
  } finally {
    stop.dispose();
  }

  async function measure(run: number): Promise<void> {
    const summary = await runRedisDemo({
      timeoutMs: 120_000,
      signal: stop.signal,
      onProcess: ({ pid }) => children.push(pid),
    });
    if (!summary.ok || summary.stallDetectedAfterMs === null || summary.failoverCompletedAfterMs === null)
      throw new Error(`demo run ${run} did not complete: ${summary.reason ?? 'unknown reason'}`);
    stall.push(summary.stallDetectedAfterMs);
    failover.push(summary.failoverCompletedAfterMs);
    console.error(
      `  ours run ${run}: STALLED after ${summary.stallDetectedAfterMs} ms, ${summary.promotedNode} confirmed ` +
        `after ${summary.failoverCompletedAfterMs} ms`,
    );
    sentinel.push(await sentinelFailover(run, stop.signal));
  }

  return rows;

  async function postgresRows(): Promise<BenchRow[]> {
    const ours: number[] = [];
    const patroni: number[] = [];
    const baseline = patroniInstalled();
    if (!baseline)
      console.error(
        `  Patroni or etcd is not installed (${PATRONI_INSTALL}): the PostgreSQL baseline is skipped`,
      );
    for (let run = 1; run <= runs; run++) {
      ours.push(await oursPostgresFailover(run, POLL_MS, stop.signal, (pid) => children.push(pid)));
      if (baseline) patroni.push(await patroniFailover(run, PATRONI, POLL_MS, stop.signal));
    }
    const our = medianAndP95(ours);
    const lines = [
      `detection on PostgreSQL, ${runs} run(s) each; heartbeat interval ${DEMO_POLICY.heartbeatIntervalSeconds} s, ` +
        `timeout ${DEMO_POLICY.heartbeatTimeoutSeconds} s; Patroni: etcd, ttl ${PATRONI.ttlSeconds} s, loop_wait ` +
        `${PATRONI.loopWaitSeconds} s, retry_timeout ${PATRONI.retryTimeoutSeconds} s`,
    ];
    if (!baseline) {
      lines.push(
        `  kill → standby promoted, writable   ours median ${our.median} ms, p95 ${our.p95} ms; Patroni: not ` +
          `installed (${PATRONI_INSTALL}), skipped`,
        '',
      );
      console.log(lines.join('\n'));
      return [];
    }
    const theirs = medianAndP95(patroni);
    lines.push(
      `  kill → standby promoted, writable   ours median ${our.median} ms, p95 ${our.p95} ms; Patroni median ` +
        `${theirs.median} ms, p95 ${theirs.p95} ms; ours/Patroni ${(our.median / theirs.median).toFixed(2)} (median), ` +
        `${(our.p95 / theirs.p95).toFixed(2)} (p95)`,
      '',
    );
    console.log(lines.join('\n'));
    const row = (metric: string, value: number, base: number): BenchRow => ({
      benchmark: 'detection',
      scenario: "PostgreSQL primary + standby, the primary's processes SIGKILLed; baseline: Patroni",
      metric,
      ours: value,
      baseline: base,
      better: 'lower',
    });
    return [
      row('standby promoted, writable, ms (median)', our.median, theirs.median),
      row('standby promoted, writable, ms (p95)', our.p95, theirs.p95),
    ];
  }

  function redisRows(): BenchRow[] {
    const ours = medianAndP95(failover);
    const theirs = medianAndP95(sentinel);
    const stalls = medianAndP95(stall);
    console.log(
      [
        `detection, ${runs} run(s) each; heartbeat interval ${DEMO_POLICY.heartbeatIntervalSeconds} s, timeout ` +
          `${DEMO_POLICY.heartbeatTimeoutSeconds} s, stallAfter ${DEMO_POLICY.stallAfterSeconds} s; Sentinel: ` +
          `${SENTINELS} sentinels, quorum ${QUORUM}, down-after-milliseconds ${DOWN_AFTER_MS}`,
        `  stall → STALLED               ours median ${stalls.median} ms, p95 ${stalls.p95} ms   (Sentinel: does not detect stalls)`,
        `  kill → promoted, confirmed    ours median ${ours.median} ms, p95 ${ours.p95} ms; Sentinel median ` +
          `${theirs.median} ms, p95 ${theirs.p95} ms; ours/Sentinel ${(ours.median / theirs.median).toFixed(2)} (median), ` +
          `${(ours.p95 / theirs.p95).toFixed(2)} (p95)`,
        '',
      ].join('\n'),
    );
    const row = (metric: string, our: number, baseline: number): BenchRow => ({
      benchmark: 'detection',
      scenario: 'Redis primary + 2 replicas, primary SIGKILLed; baseline: Redis Sentinel',
      metric,
      ours: our,
      baseline,
      better: 'lower',
    });
    return [
      row('failover confirmed, ms (median)', ours.median, theirs.median),
      row('failover confirmed, ms (p95)', ours.p95, theirs.p95),
    ];
  }
}
