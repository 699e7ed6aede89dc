import { Logger } from '@aws-lambda-powertools/logger';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { SNSEvent } from 'aws-lambda';
import { createHookRunner, localCredentials } from '../../functions/adapters/hooks/index';
import { onceInTable } from '../../functions/adapters/once';
import { probeCluster } from '../../functions/adapters/probes/index';
import { incidentNotification } from '../../functions/core/notification';
import type { Engine } from '../../functions/core/position';
import { createHandler as createNotifySlack } from '../../functions/notify-slack/handler';
import { freePort } from '../../local/dynamodb-local';
import { useRawClient, useTestTable } from '../support/dynamodb';
import { T0 } from '../support/heartbeats';
import { openedIncidentFor } from '../support/incidents';
import { lambdaContext } from '../support/lambda';
import { RecordingMetrics } from '../support/recording-metrics';
import { snsEvent } from '../support/sns';
import { startWebhookServer } from '../support/webhook-server';

const PASSWORD = 'Pa55w0rd-n0t-for-logs';

/** What must never appear in captured output, besides the secret values themselves. */
const LEAK_PATTERNS = [/password=/i, /:\/\/[^/\s:@"]+:[^/\s@"]+@/, /SECRETxyz123/];

/** Every leak of `secrets` (or of a credential-shaped pattern) in `text`, for a readable failure. */
function leaks(text: string, secrets: readonly string[]): string[] {
  return [
    ...secrets.filter((secret) => text.includes(secret)).map((secret) => `secret value ${secret}`),
    ...LEAK_PATTERNS.filter((pattern) => pattern.test(text)).map((pattern) => `pattern ${pattern}`),
  ];
}

/** An error as the Lambda runtime would log it: message, stack and the chain of causes. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(String(current.message), String(current.stack));
      current = current.cause;
    } else {
      parts.push(JSON.stringify(current) ?? String(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

/** Runs `act` with process.stdout and process.stderr captured (Powertools writes there). */
async function captured<T>(act: () => Promise<T>): Promise<{ output: string; result?: T; error?: unknown }> {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const capture = (chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    const result = await act();
    return { output: chunks.join(''), result };
  } catch (error) {
    return { output: chunks.join(''), error };
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
}

const context = lambdaContext('log-secrets', { awsRequestId: 'log-secrets' });

function notificationEvent(nodeId: string): SNSEvent {
  const incident = openedIncidentFor({
    clusterId: 'orders-pg',
    nodeId,
    role: 'replica',
    from: 'HEALTHY',
    to: 'STALLED',
    version: 3,
    at: T0,
    reason: 'stalled',
  });
  return snsEvent(incidentNotification(incident, 'opened', {}), `msg-${nodeId}`);
}

describe('notify-slack keeps the webhook URL (a secret) out of its logs and errors', () => {
  const table = useTestTable('secrets');
  const raw = useRawClient();

  const handlerFor = (url: string, metrics: RecordingMetrics) =>
    createNotifySlack(
      {
        webhookUrl: async () => url,
        once: onceInTable(raw(), table.tableName, `secrets-${url.length}-${Math.random()}`),
        post: { sleep: async () => undefined, random: () => 0.5 },
      },
      { logger: new Logger({ serviceName: 'notify-slack', logLevel: 'DEBUG' }), metrics },
    );

  it('logs a delivered notification without the webhook URL', async () => {
    const server = await startWebhookServer([{ status: 200 }]);
    const metrics = new RecordingMetrics();
    try {
      const run = await captured(() => handlerFor(server.url, metrics)(notificationEvent('pg-2'), context));

      expect(run.error).toBeUndefined();
      expect(server.received).toHaveLength(1);
      expect(run.output).toContain('posted to Slack');
      expect(leaks(run.output, [server.url])).toEqual([]);
      expect(metrics.total('NotificationsSent')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('fails a delivery Slack keeps refusing without the webhook URL in the logs or the error', async () => {
    const server = await startWebhookServer([{ status: 500 }]);
    const metrics = new RecordingMetrics();
    try {
      const run = await captured(() => handlerFor(server.url, metrics)(notificationEvent('pg-3'), context));

      expect(run.error).toBeInstanceOf(Error);
      expect(server.received.length).toBeGreaterThan(1);
      expect(leaks(`${run.output}\n${errorText(run.error)}`, [server.url])).toEqual([]);
      expect(metrics.total('NotificationsFailed')).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('credentials in node URLs stay out of hook and probe output', () => {
  let closedPort: number;
  beforeAll(async () => {
    // Nothing listens there: the node is down, the path where errors (and leaks) are most likely.
    closedPort = await freePort();
  });

  const urls = (): Record<string, string> => ({
    redis: `redis://admin:${PASSWORD}@127.0.0.1:${closedPort}`,
    postgresql: `postgresql://app:${PASSWORD}@127.0.0.1:${closedPort}/orders`,
    mariadb: `mysql://app:${PASSWORD}@127.0.0.1:${closedPort}/orders`,
  });

  it.each(['redis', 'postgresql', 'mariadb'] as const)(
    'a built-in %s hook that cannot reach its node fails without the password in its error',
    async (engine) => {
      const url = urls()[engine] as string;
      const runner = createHookRunner({ credentials: localCredentials });

      const run = await captured(() =>
        runner.run(
          {
            action: 'promote',
            clusterId: 'orders',
            engine,
            incidentId: 'incident-1',
            epoch: 2,
            target: { nodeId: 'n2', url },
            primary: { nodeId: 'n1', url },
          },
          undefined,
        ),
      );

      const text = `${run.output}\n${errorText(run.error)}\n${JSON.stringify(run.result ?? null)}`;
      expect(run.error ?? run.result).toBeDefined();
      expect(text).toContain('n2');
      expect(leaks(text, [PASSWORD, url])).toEqual([]);
    },
  );

  it.each(['redis', 'postgresql', 'mariadb'] as const)(
    'a %s probe of a node it cannot reach reports it without the password in heartbeats or warnings',
    async (engine) => {
      const url = urls()[engine] as string;
      const warnings: string[] = [];
      let seq = 0;

      const run = await captured(() =>
        probeCluster(
          { clusterId: 'orders', engine: engine as Engine, nodes: [{ nodeId: 'n1', url }] },
          {
            observerId: 'probe-1',
            now: () => T0,
            seq: () => ++seq,
            log: { warn: (message) => warnings.push(message) },
            deadlineMs: 2_000,
          },
        ),
      );

      expect(run.error).toBeUndefined();
      expect(run.result?.map((hb) => [hb.nodeId, hb.reachable])).toEqual([['n1', false]]);
      const text = `${run.output}\n${warnings.join('\n')}\n${JSON.stringify(run.result)}`;
      expect(warnings.length).toBeGreaterThan(0);
      expect(leaks(text, [PASSWORD, url])).toEqual([]);
    },
  );
});
