/** The redis-server command line of the tests that kill a Redis node and start it again as it was. */
import { LOOPBACK } from '../../local/server-processes';

export interface RestartableRedisOptions {
  readonly port: number;
  readonly dir: string;
  /** An append-only file, fsynced on every write (the node comes back with its keys); off, it comes back empty. */
  readonly appendOnly: boolean;
  /** Where it replicates from (a primary when not given). */
  readonly replicaOf?: { readonly host: string; readonly port: number };
  /** More options, before `--replicaof`. */
  readonly extra?: readonly string[];
}

/**
 * A redis-server on a fixed port and directory, in the foreground, without RDB snapshots and without the
 * 5 s wait before a diskless sync: the same arguments start it again as it was.
 */
export function restartableRedisArgs(options: RestartableRedisOptions): string[] {
  const { port, dir, appendOnly, replicaOf } = options;
  return [
    '--port',
    String(port),
    '--bind',
    LOOPBACK,
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--save',
    '',
    ...(appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--repl-diskless-sync-delay',
    '0',
    ...(options.extra ?? []),
    ...(replicaOf === undefined ? [] : ['--replicaof', replicaOf.host, String(replicaOf.port)]),
  ];
}
