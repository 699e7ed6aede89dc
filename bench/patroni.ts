/**
 * The PostgreSQL baseline of `npm run bench -- detection`: Patroni, the tool PostgreSQL users run for
 * automatic failover, on the same kind of pair as ours (a primary and a streaming standby on 127.0.0.1),
 * with one etcd as its DCS. Debian packages `patroni` and `etcd-server`; everything runs on free loopback
 * ports in temporary directories and is stopped by process id.
 *
 * Patroni's knobs are set to ours by the caller (bench/detection.ts): `ttl` (how long the leader key
 * outlives its last renewal) = our heartbeat timeout, `loop_wait` = our heartbeat interval.
 */
import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../local/dynamodb-local';
import {
  killPostgresProcesses,
  pgWritable,
  postgresBin,
  postmasterPid,
  sysvSegmentRemover,
} from '../local/postgres-servers';
import {
  commandOnPath,
  endProcess,
  exited,
  isAlive,
  LOOPBACK,
  type ManagedProcess,
  ProcessGroup,
  runAs,
  waitFor,
} from '../local/server-processes';

/** How to install the baseline, printed when it is missing. */
export const PATRONI_INSTALL = 'sudo apt-get install -y patroni etcd-server';

/** Whether `patroni` and `etcd` are installed. */
export function patroniInstalled(): boolean {
  return commandOnPath('patroni') !== undefined && commandOnPath('etcd') !== undefined;
}

export interface PatroniSettings {
  readonly ttlSeconds: number;
  readonly loopWaitSeconds: number;
  readonly retryTimeoutSeconds: number;
}

export interface PatroniNode {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly apiPort: number;
  readonly dataDir: string;
  readonly process: ManagedProcess;
}

/** GET on a Patroni REST endpoint: 200 means yes (`/primary`: it is the leader, running). */
async function answers(node: PatroniNode, path: string): Promise<boolean> {
  const response = await fetch(`http://${LOOPBACK}:${node.apiPort}${path}`, {
    signal: AbortSignal.timeout(1000),
  }).catch(() => undefined);
  await response?.body?.cancel();
  return response?.status === 200;
}

/** A running Patroni pair: its etcd, the leader and the streaming standby. */
export interface PatroniPair {
  readonly leader: PatroniNode;
  readonly standby: PatroniNode;
  /** The Patroni configuration file of a node (what `patronictl -c` takes). */
  config(node: PatroniNode): string;
  /** The scope (Patroni's cluster name). */
  readonly scope: string;
  /** The nodes' logs' ends on stderr (before the directories go). */
  dumpLogs(): void;
  /** Stops Patroni (it stops its PostgreSQL), then any postmaster left, etcd; removes the directories. */
  stop(): Promise<void>;
}

/**
 * etcd and a Patroni pair on free loopback ports (the leader bootstraps with initdb, the other clones it),
 * resolved once the standby streams from the leader with no lag. On failure whatever started is stopped.
 */
export async function startPatroniPair(
  run: number,
  settings: PatroniSettings,
  signal: AbortSignal,
  prefix = 'patroni',
): Promise<PatroniPair> {
  const owner = runAs('postgres');
  const group = new ProcessGroup();
  const nodes: PatroniNode[] = [];
  const configs = new Map<PatroniNode, string>();
  const scope = `bench-${run}`;
  const dumpLogs = () => {
    for (const node of nodes) {
      const log = existsSync(node.process.log) ? readFileSync(node.process.log, 'utf8') : '';
      console.error(`  ${node.name} log (end):\n${log.split('\n').slice(-15).join('\n')}`);
    }
  };
  const stop = async () => {
    // Patroni stops its PostgreSQL on SIGTERM; a postmaster left behind (Patroni killed first) by its id.
    const postmasters = nodes.map((node) => ({ node, pid: postmasterPid(node.dataDir) }));
    await Promise.all(
      nodes
        .filter((node) => !exited(node.process))
        .map((node) => endProcess(node.process, 'SIGTERM', 10_000)),
    );
    for (const { node, pid } of postmasters) {
      if (pid !== undefined && isAlive(pid)) await killPostgresProcesses(pid);
      sysvSegmentRemover(node.dataDir)();
    }
    await group.stop();
  };
  try {
    const etcdDir = group.dir(`${prefix}${run}-etcd`, undefined);
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const client = `http://${LOOPBACK}:${clientPort}`;
    const peer = `http://${LOOPBACK}:${peerPort}`;
    const etcd = group.start(
      `${prefix}${run}-etcd`,
      'etcd',
      [
        '--name=bench',
        `--data-dir=${join(etcdDir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=bench=${peer}`,
      ],
      { dir: etcdDir, owner: undefined },
    );
    await waitFor(
      'etcd to answer',
      async () => (await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) })).ok,
      { process: etcd, signal },
    );

    const start = async (name: string): Promise<PatroniNode> => {
      const dir = group.dir(`${prefix}${run}-${name}`, owner);
      const [port, apiPort] = [await freePort(), await freePort()];
      const dataDir = join(dir, 'data');
      const config = join(dir, 'patroni.yml');
      // JSON is YAML: no YAML writer needed.
      writeFileSync(
        config,
        JSON.stringify({
          scope,
          name,
          log: { level: 'WARNING' },
          restapi: { listen: `${LOOPBACK}:${apiPort}`, connect_address: `${LOOPBACK}:${apiPort}` },
          etcd3: { hosts: `${LOOPBACK}:${clientPort}` },
          bootstrap: {
            dcs: {
              ttl: settings.ttlSeconds,
              loop_wait: settings.loopWaitSeconds,
              retry_timeout: settings.retryTimeoutSeconds,
              postgresql: {
                use_pg_rewind: false,
                parameters: { wal_level: 'replica', hot_standby: 'on', max_wal_senders: 5 },
              },
            },
            initdb: [{ encoding: 'UTF8' }, { auth: 'trust' }],
            pg_hba: [
              'local all all trust',
              `host all all ${LOOPBACK}/32 trust`,
              `host replication all ${LOOPBACK}/32 trust`,
            ],
          },
          postgresql: {
            listen: `${LOOPBACK}:${port}`,
            connect_address: `${LOOPBACK}:${port}`,
            data_dir: dataDir,
            bin_dir: postgresBin(),
            pgpass: join(dir, 'pgpass'),
            authentication: { superuser: { username: 'postgres' }, replication: { username: 'postgres' } },
            parameters: { unix_socket_directories: dir, fsync: 'off', shared_buffers: '16MB' },
          },
        }),
      );
      if (owner !== undefined) chownSync(config, owner.uid, owner.gid);
      const managed = group.start(`${prefix}${run}-${name}`, 'patroni', [config], { dir, owner });
      const node = { name, host: LOOPBACK, port, apiPort, dataDir, process: managed };
      nodes.push(node);
      configs.set(node, config);
      return node;
    };

    const leader = await start('pg-1');
    await waitFor(`${leader.name} to lead`, () => answers(leader, '/primary'), {
      process: leader.process,
      timeoutMs: 60_000,
      intervalMs: 200,
      signal,
    });
    const standby = await start('pg-2');
    await waitFor(`${standby.name} to stream from ${leader.name}`, () => answers(standby, '/replica?lag=0'), {
      process: standby.process,
      timeoutMs: 60_000,
      intervalMs: 200,
      signal,
    });
    return {
      leader,
      standby,
      scope,
      config: (node) => configs.get(node) ?? '',
      dumpLogs,
      stop,
    };
  } catch (error) {
    dumpLogs();
    await stop();
    throw error;
  }
}

/**
 * One Patroni failover: etcd, a Patroni pair (the leader bootstraps with initdb, the other clones it), then
 * SIGKILL of the leader's host processes (its Patroni and every PostgreSQL process, so nothing restarts it):
 * ms until the other node is a writable primary (polled every `pollMs`).
 */
export async function patroniFailover(
  run: number,
  settings: PatroniSettings,
  pollMs: number,
  signal: AbortSignal,
): Promise<number> {
  const pair = await startPatroniPair(run, settings, signal);
  const { leader, standby } = pair;
  try {
    const postmaster = postmasterPid(leader.dataDir);
    if (postmaster === undefined) throw new Error(`${leader.name}: no running postmaster`);
    const killAt = Date.now();
    await endProcess(leader.process, 'SIGKILL', 10_000);
    await killPostgresProcesses(postmaster);
    sysvSegmentRemover(leader.dataDir)();
    await waitFor(
      `Patroni to promote ${standby.name}`,
      () => pgWritable({ host: LOOPBACK, port: standby.port }),
      { timeoutMs: 120_000, intervalMs: pollMs, signal },
    );
    const elapsed = Date.now() - killAt;
    console.error(`  patroni run ${run}: ${standby.name} promoted and writable after ${elapsed} ms`);
    return elapsed;
  } catch (error) {
    // The servers' own words, before their directories go.
    pair.dumpLogs();
    throw error;
  } finally {
    await pair.stop();
  }
}
