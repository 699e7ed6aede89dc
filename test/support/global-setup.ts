import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDynamoDbLocal } from '../../local/dynamodb-local';
import { DDB_ENDPOINT_ENV, PID_FILE, PID_FILE_PREFIX, STATE_DIR } from './paths';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A crashed earlier run may have left its DynamoDB Local behind: stop it by its process id. Only runs
 * whose jest process is gone are cleaned up, so two runs in one checkout leave each other alone.
 */
function stopOrphans(): void {
  const legacy = join(STATE_DIR, 'dynamodb-local.pid');
  const files = readdirSync(STATE_DIR).filter((f) => f.startsWith(PID_FILE_PREFIX) && f.endsWith('.pid'));
  for (const file of files) {
    const path = join(STATE_DIR, file);
    const owner = Number(file.slice(PID_FILE_PREFIX.length, -'.pid'.length));
    if (path !== legacy && Number.isInteger(owner) && alive(owner)) continue;
    const stale = Number(readFileSync(path, 'utf8'));
    if (Number.isInteger(stale) && stale > 0 && alive(stale)) process.kill(stale, 'SIGKILL');
    rmSync(path, { force: true });
  }
}

/** Starts one DynamoDB Local for the integration run; its endpoint reaches the tests through the env. */
export default async function globalSetup(): Promise<void> {
  mkdirSync(STATE_DIR, { recursive: true });
  stopOrphans();
  const ddb = await startDynamoDbLocal();
  writeFileSync(PID_FILE, String(ddb.pid));
  process.env[DDB_ENDPOINT_ENV] = ddb.endpoint;
  (globalThis as { __DDB_LOCAL__?: typeof ddb }).__DDB_LOCAL__ = ddb;
}
