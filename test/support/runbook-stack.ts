/** The local stack the runbook-starting CLI tests (failover, recover, switchover) run their commands against. */
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { loadRunbookDefinitions } from '../../local/runbook-definitions';
import { DDB_ENDPOINT_ENV } from './paths';

/**
 * Synthesizes the runbooks' definitions first (once, and cached: not while the stack serves a request),
 * then starts a local stack that prints nothing, on the run's DynamoDB Local (table `<name>-<pid>`) when
 * the run has one.
 */
export async function startRunbookStack(name: string, sweepIntervalMs: number): Promise<LocalStack> {
  await loadRunbookDefinitions();
  const shared = process.env[DDB_ENDPOINT_ENV];
  return startLocalStack({
    port: 0,
    ...(shared ? { dynamodb: { endpoint: shared, tableName: `${name}-${process.pid}` } } : {}),
    print: () => undefined,
    sweepIntervalMs,
  });
}
