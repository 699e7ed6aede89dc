import { rmSync } from 'node:fs';
import type { DynamoDbLocal } from '../../local/dynamodb-local';
import { PID_FILE } from './paths';

export default async function globalTeardown(): Promise<void> {
  const ddb = (globalThis as { __DDB_LOCAL__?: DynamoDbLocal }).__DDB_LOCAL__;
  await ddb?.stop();
  rmSync(PID_FILE, { force: true });
}
