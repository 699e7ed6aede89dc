/**
 * Ours on PostgreSQL for `npm run bench -- detection`: a primary and a streaming standby on 127.0.0.1
 * (local/postgres-servers.ts), the local stack on its own DynamoDB Local, `watch` probing every heartbeat
 * interval, the cluster in mode `auto` with the demo's policy. Every PostgreSQL process of the primary is
 * SIGKILLed; timed until the standby is a writable primary (out of recovery, a write commits), polled as
 * the Patroni baseline is.
 */
import { documentClient } from '../functions/adapters/clients';
import { ClusterConfigSchema } from '../functions/core/config/schema';
import type { NodeState } from '../functions/core/node-state';
import { LOCAL_AWS } from '../local/dynamodb-local';
import { startLocalStack } from '../local/local-stack';
import { killPostgresProcesses, pgWritable, startPostgresPair } from '../local/postgres-servers';
import { DEMO_POLICY } from '../local/redis-demo';
import { loadRunbookDefinitions } from '../local/runbook-definitions';
import { waitFor } from '../local/server-processes';
import { localSink, watch } from '../local/watch';

const CLUSTER = 'bench-postgresql';
const INTERVAL_MS = DEMO_POLICY.heartbeatIntervalSeconds * 1000;

/** One failover of ours on a fresh pair and stack: ms from the SIGKILL to the standby writable. */
export async function oursPostgresFailover(
  run: number,
  pollMs: number,
  signal: AbortSignal,
  onProcess: (pid: number) => void,
): Promise<number> {
  const started = await Promise.allSettled([
    startPostgresPair(),
    startLocalStack({ port: 0, sweepIntervalMs: INTERVAL_MS, pollIntervalMs: 200, print: () => undefined }),
    loadRunbookDefinitions(),
  ] as const);
  const [pairStart, stackStart] = started;
  const failed = started.find((result) => result.status === 'rejected');
  if (failed !== undefined || pairStart.status !== 'fulfilled' || stackStart.status !== 'fulfilled') {
    // Whatever did start is stopped before the error goes on.
    if (pairStart.status === 'fulfilled') await pairStart.value.stop();
    if (stackStart.status === 'fulfilled') await stackStart.value.stop();
    throw (failed as PromiseRejectedResult | undefined)?.reason ?? new Error('the start failed');
  }
  const pair = pairStart.value;
  const stack = stackStart.value;
  for (const pid of [pair.primary.pid, pair.replica.pid, stack.dynamodbPid])
    if (pid !== undefined) onProcess(pid);
  const watching = new AbortController();
  const client = documentClient({ ...LOCAL_AWS, endpoint: stack.dynamodbEndpoint });
  let done: Promise<unknown> = Promise.resolve();
  try {
    const config = ClusterConfigSchema.parse({
      clusters: [
        {
          id: CLUSTER,
          engine: 'postgresql',
          mode: 'auto',
          nodes: [pair.primary, pair.replica].map((node) => ({ id: node.nodeId, url: node.endpoint.url })),
          policy: DEMO_POLICY,
        },
      ],
    });
    done = watch({
      config,
      client,
      tableName: stack.tableName,
      sink: localSink(stack.url),
      intervalMs: INTERVAL_MS,
      signal: watching.signal,
      print: () => undefined,
    }).catch((error: Error) => console.error(`  ours run ${run}: watch stopped: ${error.message}`));
    const healthy = async () => {
      const response = await fetch(`${stack.url}/status?cluster=${CLUSTER}`);
      const { nodes } = (await response.json()) as { nodes: NodeState[] };
      return nodes.length === 2 && nodes.every((node) => node.status === 'HEALTHY');
    };
    await waitFor('both PostgreSQL nodes HEALTHY', healthy, { timeoutMs: 60_000, intervalMs: 200, signal });
    const killAt = Date.now();
    await killPostgresProcesses(pair.primary.pid);
    await waitFor(`the failover to promote ${pair.replica.nodeId}`, () => pgWritable(pair.replica), {
      timeoutMs: 120_000,
      intervalMs: pollMs,
      signal,
    });
    const elapsed = Date.now() - killAt;
    console.error(`  ours run ${run}: ${pair.replica.nodeId} promoted and writable after ${elapsed} ms`);
    return elapsed;
  } finally {
    watching.abort();
    await done;
    client.destroy();
    await stack.stop();
    await pair.stop();
  }
}
