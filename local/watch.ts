/**
 * `replica-sentinel watch --config clusters.yaml`: writes the clusters' configuration to the stack's table,
 * then probes every node of each cluster every `heartbeatIntervalSeconds` of its policy (or every
 * `--interval`) and feeds the heartbeats in — to a local stack
 * (`POST /heartbeats`) or to a deployed stack's heartbeats Kinesis stream (`--stack`).
 */
import { hostname } from 'node:os';
import { Kinesis } from '@aws-sdk/client-kinesis';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { applyClusterConfig } from '../functions/adapters/cluster-config-store';
import { localCredentials } from '../functions/adapters/hooks';
import { probeCluster } from '../functions/adapters/probes';
import type { ClusterConfig } from '../functions/core/config/schema';
import { resolvePolicy } from '../functions/core/policy';
import { defaultProbeDeadlineSeconds } from '../functions/core/probe-cadence';
import type { HeartbeatInput } from '../functions/core/wire';
import { kinesisPublisher } from '../functions/probe/publisher';

export interface HeartbeatSink {
  send(heartbeats: HeartbeatInput[]): Promise<{ accepted: number; quarantined: string[] }>;
}

/** The local stack's HTTP ingest. */
export function localSink(stackUrl: string): HeartbeatSink {
  return {
    async send(heartbeats) {
      const response = await fetch(new URL('/heartbeats', stackUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(heartbeats),
      });
      if (!response.ok) throw new Error(`the local stack refused the heartbeats: HTTP ${response.status}`);
      return (await response.json()) as { accepted: number; quarantined: string[] };
    },
  };
}

/**
 * A deployed stack's heartbeats stream, through the probe function's publisher: partition key = node id,
 * chunks of 500, the records Kinesis refused sent again with backoff, a named error if some never go in.
 */
export function kinesisSink(client: Kinesis, streamArn: string): HeartbeatSink {
  const publish = kinesisPublisher(client, streamArn);
  return {
    async send(heartbeats) {
      await publish(heartbeats);
      return { accepted: heartbeats.length, quarantined: [] };
    },
  };
}

export { Kinesis };

export interface WatchOptions {
  readonly config: ClusterConfig;
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly sink: HeartbeatSink;
  /** Every cluster is probed at this interval; each at its own `heartbeatIntervalSeconds` when undefined. */
  readonly intervalMs?: number;
  /** Stop after this many rounds (tests); forever when undefined. */
  readonly rounds?: number;
  readonly signal?: AbortSignal;
  readonly print: (line: string) => void;
}

/** Applies the configuration, then probes and feeds heartbeats until stopped. */
export async function watch(options: WatchOptions): Promise<{ rounds: number; heartbeats: number }> {
  const summary = await applyClusterConfig(options.client, options.tableName, options.config, Date.now());
  options.print(`configuration applied: ${summary.text}`);
  const observerId = `watch@${hostname()}`.replace(/[^A-Za-z0-9._:@/-]/g, '-').slice(0, 128);
  // Strictly increasing per observer, across restarts too.
  let last = 0;
  const seq = () => {
    last = Math.max(last + 1, Date.now());
    return last;
  };
  let sent = 0;
  // One loop per cluster at its own cadence: one cluster's slow node must not delay another cluster's round.
  const rounds = await Promise.all(
    options.config.clusters.map(async (cluster) => {
      const intervalMs = options.intervalMs ?? probeIntervalSeconds(cluster) * 1000;
      // Each node gets this long per round; a slower one is reported unreachable, the others on time.
      const deadlineMs = defaultProbeDeadlineSeconds(intervalMs / 1000) * 1000;
      let done = 0;
      while (!options.signal?.aborted && (options.rounds === undefined || done < options.rounds)) {
        const started = Date.now();
        const heartbeats = await probeCluster(
          {
            clusterId: cluster.id,
            engine: cluster.engine,
            nodes: cluster.nodes.map((n) => ({ nodeId: n.id, url: n.url })),
          },
          {
            observerId,
            now: Date.now,
            seq,
            credentials: localCredentials,
            log: { warn: (message: string) => options.print(`[watch] ${message}`) },
            deadlineMs,
          },
        );
        // A round the stack could not take (a failed request, a throttled stream) is lost, not fatal: the
        // monitor keeps probing, and the next round's heartbeats say the same and newer.
        try {
          const result = await options.sink.send(heartbeats);
          for (const reason of result.quarantined)
            options.print(`[watch] ${cluster.id}: a heartbeat was quarantined: ${reason}`);
          sent += result.accepted;
        } catch (error) {
          options.print(
            `[watch] ${cluster.id}: ${heartbeats.length} heartbeat(s) not delivered (${describeError(error)}); probing again next round`,
          );
        }
        done++;
        const wait = intervalMs - (Date.now() - started);
        if (wait > 0 && (options.rounds === undefined || done < options.rounds))
          await pause(wait, options.signal);
      }
      return done;
    }),
  );
  return { rounds: Math.max(0, ...rounds), heartbeats: sent };
}

/** The interval `watch` probes a cluster at when `--interval` is not given: its `heartbeatIntervalSeconds`. */
export function probeIntervalSeconds(cluster: ClusterConfig['clusters'][number]): number {
  return resolvePolicy(cluster.policy).heartbeatIntervalSeconds;
}

/** Waits `ms`, or less when `signal` aborts; one listener per wait, removed when it ends. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An error's message with its cause's (fetch says `fetch failed` and puts the reason in `cause`). Read by
 * shape: fetch's errors may come from another realm, where `instanceof Error` is false.
 */
function describeError(error: unknown): string {
  const { message, cause } = (error ?? {}) as { message?: unknown; cause?: { message?: unknown } };
  const text = message === undefined ? String(error) : String(message);
  return cause?.message === undefined ? text : `${text}: ${String(cause.message)}`;
}
