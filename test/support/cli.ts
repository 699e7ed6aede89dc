import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { localEndpoint } from './dynamodb';

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real CLI entry (bin/replica-sentinel.js) as a user would, in its own process, and resolves its
 * exit code and output whatever the code. `env` replaces the environment (default: this process's).
 */
export async function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/replica-sentinel.js', ...args], {
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The CLI options that point a command at a test table on the run's DynamoDB Local. */
export function tableArgs(table: { readonly tableName: string }): string[] {
  return ['--dynamodb-endpoint', localEndpoint(), '--table', table.tableName];
}
