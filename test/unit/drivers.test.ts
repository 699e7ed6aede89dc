import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { REPO_ROOT } from '../../infra/paths';

/**
 * Which packages a module graph really loads (issue 14: the ingest, sweep and on-transition functions load no
 * database driver; the probes and hooks load only the driver of the cluster's engine, on first use). Each case
 * runs in a fresh Node.js process (with tsx, as the CLI runs), does `script`, then lists the packages in
 * Node's module cache (the drivers are CommonJS: imported or required, they land there).
 */
const run = promisify(execFile);

const PACKAGES = [
  'pg',
  'mysql2',
  'redis',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-sns',
  '@aws-sdk/client-sfn',
  '@aws-sdk/client-lambda',
  '@aws-sdk/client-ssm',
  '@aws-sdk/client-secrets-manager',
];

async function packagesLoaded(script: string): Promise<Record<string, boolean>> {
  const body = `${script}
const { createRequire } = await import('node:module');
const cached = Object.keys(createRequire(import.meta.url)('node:module')._cache);
console.log('LOADED ' + JSON.stringify(Object.fromEntries(${JSON.stringify(PACKAGES)}.map((p) => [p, cached.some((k) => k.includes('/node_modules/' + p + '/'))]))));`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      TABLE_NAME: 'table',
      QUARANTINE_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/quarantine',
      ALERTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:123456789012:alerts',
      FAILOVER_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:failover',
      RECOVERY_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:123456789012:stateMachine:recovery',
      AWS_REGION: 'eu-west-1',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/test',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    timeout: 60_000,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('LOADED '));
  if (line === undefined) throw new Error(`no LOADED line in: ${stdout}`);
  return JSON.parse(line.slice('LOADED '.length)) as Record<string, boolean>;
}

const file = (path: string) => JSON.stringify(join(REPO_ROOT, path));

/** A loopback port nothing listens on (taken from the system, then released): connections are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const NO_DRIVER = { pg: false, mysql2: false, redis: false };

describe('what a cold start loads (issue 14)', () => {
  it.each(['ingest-heartbeat', 'sweep', 'on-transition'])(
    '%s loads no database driver and no client it only needs later',
    async (fn) => {
      const loaded = await packagesLoaded(`await import(${file(`functions/${fn}/index.ts`)});`);
      expect(loaded).toEqual({
        ...NO_DRIVER,
        // The quarantine queue (bad records only), the alerts topic and the runbooks: on first use.
        '@aws-sdk/client-sqs': false,
        '@aws-sdk/client-sns': false,
        '@aws-sdk/client-sfn': false,
        '@aws-sdk/client-lambda': false,
        '@aws-sdk/client-ssm': false,
        '@aws-sdk/client-secrets-manager': false,
      });
    },
  );

  it('runbook-steps loads no database driver, and no Lambda, SSM or Secrets Manager client', async () => {
    const loaded = await packagesLoaded(`await import(${file('functions/runbook-steps/index.ts')});`);
    expect(loaded).toMatchObject({
      ...NO_DRIVER,
      '@aws-sdk/client-lambda': false,
      '@aws-sdk/client-ssm': false,
      '@aws-sdk/client-secrets-manager': false,
    });
  });

  it('the probes, the hooks and the runbook-steps wiring load no driver until one is used', async () => {
    const loaded = await packagesLoaded(
      [
        `await import(${file('functions/adapters/probes/index.ts')});`,
        `await import(${file('functions/adapters/hooks/index.ts')});`,
        `await import(${file('functions/adapters/recovery-hooks.ts')});`,
      ].join('\n'),
    );
    expect(loaded).toMatchObject(NO_DRIVER);
  });
});

describe('a cluster loads the driver of its engine, and only that one', () => {
  it('probing a Redis cluster loads node-redis', async () => {
    const port = await closedPort();
    const loaded = await packagesLoaded(`
const { probeCluster } = await import(${file('functions/adapters/probes/index.ts')});
const heartbeats = await probeCluster(
  { clusterId: 'cache', engine: 'redis', nodes: [{ nodeId: 'r1', url: 'redis://127.0.0.1:${port}' }] },
  { observerId: 'test', now: () => 0, seq: () => 1 },
);
if (heartbeats.length !== 1 || heartbeats[0].reachable !== false) throw new Error(JSON.stringify(heartbeats));`);
    expect(loaded).toMatchObject({ pg: false, mysql2: false, redis: true });
  });

  it('probing a MariaDB cluster loads mysql2', async () => {
    const port = await closedPort();
    const loaded = await packagesLoaded(`
const { probeCluster } = await import(${file('functions/adapters/probes/index.ts')});
const heartbeats = await probeCluster(
  { clusterId: 'shop', engine: 'mariadb', nodes: [{ nodeId: 'm1', url: 'mysql://127.0.0.1:${port}' }] },
  { observerId: 'test', now: () => 0, seq: () => 1 },
);
if (heartbeats.length !== 1 || heartbeats[0].reachable !== false) throw new Error(JSON.stringify(heartbeats));`);
    expect(loaded).toMatchObject({ pg: false, mysql2: true, redis: false });
  });

  it('a built-in PostgreSQL hook loads pg', async () => {
    const port = await closedPort();
    const loaded = await packagesLoaded(`
const { createHookRunner, localCredentials, NodeUnreachableError } = await import(${file('functions/adapters/hooks/index.ts')});
const target = { nodeId: 'pg-1', url: 'postgresql://postgres@127.0.0.1:${port}/postgres' };
const request = { action: 'promote', clusterId: 'orders', engine: 'postgresql', incidentId: 'i-1', epoch: 1, target };
const outcome = await createHookRunner({ credentials: localCredentials }).run(request, undefined).then(
  () => 'done',
  (error) => (error instanceof NodeUnreachableError ? 'unreachable' : String(error)),
);
if (outcome !== 'unreachable') throw new Error(outcome);`);
    expect(loaded).toMatchObject({ pg: true, mysql2: false, redis: false });
  });
});
