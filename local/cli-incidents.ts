// Placeholder until the incidents commands land (issue 5): the CLI dispatches here.
import { UsageError } from './cli-common';

type Io = { out: (text: string) => void; err: (text: string) => void };

export async function incidentsCommand(_args: string[], _env: NodeJS.ProcessEnv, _io: Io, _now: number) {
  throw new UsageError('incidents: not built yet');
}

export async function incidentShowCommand(_args: string[], _env: NodeJS.ProcessEnv, _io: Io, _now: number) {
  throw new UsageError('incident show: not built yet');
}
