import { join } from 'node:path';

export const STATE_DIR = join(process.cwd(), '.tmp');
export const PID_FILE = join(STATE_DIR, 'dynamodb-local.pid');
export const DDB_ENDPOINT_ENV = 'REPLICA_SENTINEL_TEST_DDB_ENDPOINT';
