// Placeholder until the real-Redis demo lands (issue 5): the CLI dispatches here.
import { UsageError } from './cli-common';

type Io = { out: (text: string) => void; err: (text: string) => void };

export async function demoCommand(_args: string[], _env: NodeJS.ProcessEnv, _io: Io): Promise<number> {
  throw new UsageError('demo: not built yet');
}
