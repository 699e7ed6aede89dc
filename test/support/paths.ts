import { join } from 'node:path';

export const STATE_DIR = join(process.cwd(), '.tmp');
/** One file per jest run, named after the jest process, holding its DynamoDB Local's pid. */
export const PID_FILE_PREFIX = 'dynamodb-local.';
export const PID_FILE = join(STATE_DIR, `${PID_FILE_PREFIX}${process.pid}.pid`);
export const DDB_ENDPOINT_ENV = 'REPLICA_SENTINEL_TEST_DDB_ENDPOINT';
