import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { DDB_ENDPOINT_ENV, PID_FILE, STATE_DIR } from './paths';

/** Starts one DynamoDB Local for the integration run; its endpoint reaches the tests through the env. */
export default async function globalSetup(): Promise<void> {
  mkdirSync(STATE_DIR, { recursive: true });
  // A crashed earlier run may have left its DynamoDB Local behind: stop it by its process id.
  if (existsSync(PID_FILE)) {
    const stale = Number(readFileSync(PID_FILE, 'utf8'));
    if (Number.isInteger(stale) && stale > 0) {
      try {
        process.kill(stale, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  const ddb = await startDynamoDbLocal();
  writeFileSync(PID_FILE, String(ddb.pid));
  process.env[DDB_ENDPOINT_ENV] = ddb.endpoint;
  (globalThis as { __DDB_LOCAL__?: typeof ddb }).__DDB_LOCAL__ = ddb;
}
