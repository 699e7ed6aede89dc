/**
 * `replica-sentinel watch --config clusters.yaml`: writes the clusters' configuration to the stack's table,
 * then probes every node of every cluster each interval and feeds the heartbeats in — to a local stack
 * (`POST /heartbeats`) or to a deployed stack's heartbeats Kinesis stream (`--stack`).
 */
import { hostname } from 'node:os';
import { Kinesis } from '@aws-sdk/client-kinesis';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { applyClusterConfig } from '../functions/adapters/cluster-config-store';
import { localCredentials } from '../functions/adapters/hooks';
import { probeCluster } from '../functions/adapters/probes';
import type { ClusterConfig } from '../functions/core/cluster-config';
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
  readonly intervalMs: number;
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
  let rounds = 0;
  let sent = 0;
  // Each node gets this long per round; a slower one is reported unreachable, the others on time.
  const deadlineMs = defaultProbeDeadlineSeconds(options.intervalMs / 1000) * 1000;
  while (!options.signal?.aborted && (options.rounds === undefined || rounds < options.rounds)) {
    const started = Date.now();
    // Clusters at once: one cluster's slow node must not delay another cluster's round.
    const accepted = await Promise.all(
      options.config.clusters.map(async (cluster) => {
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
        let result: Awaited<ReturnType<HeartbeatSink['send']>>;
        try {
          result = await options.sink.send(heartbeats);
        } catch (error) {
          options.print(
            `[watch] ${cluster.id}: ${heartbeats.length} heartbeat(s) not delivered (${describeError(error)}); probing again next round`,
          );
          return 0;
        }
        for (const reason of result.quarantined)
          options.print(`[watch] ${cluster.id}: a heartbeat was quarantined: ${reason}`);
        return result.accepted;
      }),
    );
    sent += accepted.reduce((sum, n) => sum + n, 0);
    rounds++;
    const wait = options.intervalMs - (Date.now() - started);
    if (wait > 0 && (options.rounds === undefined || rounds < options.rounds)) {
      await new Promise<void>((resolve) => {
        // One listener per wait, removed when the wait ends: a long watch must not pile them up.
        const onAbort = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          options.signal?.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        options.signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
  return { rounds, heartbeats: sent };
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
