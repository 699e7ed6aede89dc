/**
 * Doris and StarRocks frontend probe: `SHOW FRONTENDS` over the MySQL protocol (query port, 9030 by
 * default), read through the first frontend that answers, gives one heartbeat per configured frontend.
 *
 * The rows are the cluster's own view (the observer is still the probe): a frontend is reachable when its
 * row says Alive; the master (Doris `IsMaster` true, StarRocks `Role` LEADER) is the primary, with its
 * `ReplayedJournalId` as position; the others (followers and observers) are replicas of it, with
 * `ReplayedJournalId` as applied position and the link up while they are alive and joined. A frontend
 * missing from the rows, or not alive, is reported unreachable.
 *
 * Rows map to configured nodes by host (`Host`, or `IP`/`HostName` in StarRocks and older Doris) and
 * `QueryPort` against the node URL (`mysql://host:9030`), else by `Name` equal to the node id.
 */
import type { NodeEndpoint } from '../../core/hooks';
import type { HeartbeatInput } from '../../core/wire';
import { errorMessage } from '../hooks/connection';
import { withMysqlProtocol } from './mysql';
import { refusalOf } from './refusal';
import { isDecimal, type ProbeOptions, ProbeRound, type ProbeTarget, text } from './round';

/** The MySQL-protocol port of a frontend. */
export const FRONTEND_QUERY_PORT = 9030;

/** One row of SHOW FRONTENDS, column name → value (text, as the frontends send it). */
export type FrontendRow = Readonly<Record<string, unknown>>;

/** Reads SHOW FRONTENDS through one frontend; rejects when that frontend cannot answer. */
export type FrontendRowSource = (frontend: NodeEndpoint) => Promise<readonly FrontendRow[]>;

/** The real row source: SHOW FRONTENDS over a MySQL-protocol connection to the frontend's query port. */
export function showFrontends(target: ProbeTarget, options: ProbeOptions): FrontendRowSource {
  const round = new ProbeRound(target, options);
  return (frontend) =>
    withMysqlProtocol(round, frontend, FRONTEND_QUERY_PORT, (query) => query('SHOW FRONTENDS'));
}

function flag(value: unknown): boolean | undefined {
  const word = text(value)?.trim().toLowerCase();
  if (word === 'true' || word === '1' || word === 'yes') return true;
  if (word === 'false' || word === '0' || word === 'no') return false;
  return undefined;
}

function isMaster(row: FrontendRow): boolean {
  return flag(row.IsMaster) === true || ['LEADER', 'MASTER'].includes(text(row.Role)?.toUpperCase() ?? '');
}

/**
 * Probes a Doris or StarRocks cluster's frontends. Never rejects: when no frontend answers, every one is
 * reported unreachable, except those that refused the probe (a wrong login...): they get no heartbeat.
 *
 * @param rowsOf where the rows come from; tests pass recorded outputs. Default: {@link showFrontends}.
 * @example
 * const heartbeats = await probeFrontends(target, options, async () => recordedRows);
 */
export async function probeFrontends(
  target: ProbeTarget,
  options: ProbeOptions,
  rowsOf: FrontendRowSource = showFrontends(target, options),
): Promise<HeartbeatInput[]> {
  const round = new ProbeRound(target, options);
  const { rows, answeredBy, failures } = await readRows(target, rowsOf);
  const observedAt = round.now();
  if (rows === undefined) {
    const reason = `no frontend answered SHOW FRONTENDS (${
      [...failures].map(([nodeId, error]) => `${nodeId}: ${errorMessage(error)}`).join('; ') ||
      'no frontend configured'
    })`;
    // A frontend that refused (a wrong login...) is alive: no heartbeat for it rather than unreachable.
    return target.nodes.flatMap((node) => {
      const error = failures.get(node.nodeId);
      const refused = error !== undefined && refusalOf(error) !== undefined;
      if (refused) return round.failed(node.nodeId, error, observedAt) ?? [];
      return [round.unreachable(node.nodeId, reason, observedAt)];
    });
  }
  const byNode = new Map<string, FrontendRow>();
  for (const row of rows) {
    const nodeId = nodeIdOf(round, row);
    if (nodeId !== undefined && !byNode.has(nodeId)) byNode.set(nodeId, row);
  }
  const masterNodeId = [...byNode].find(([, row]) => isMaster(row) && flag(row.Alive) !== false)?.[0];
  return target.nodes.map((node) => {
    const row = byNode.get(node.nodeId);
    if (row === undefined) {
      return round.unreachable(node.nodeId, `not listed by SHOW FRONTENDS on ${answeredBy}`, observedAt);
    }
    if (flag(row.Alive) !== true) {
      const error = text(row.ErrMsg);
      return round.unreachable(
        node.nodeId,
        `SHOW FRONTENDS on ${answeredBy} says Alive ${text(row.Alive) ?? '?'}${error ? ` (${error})` : ''}`,
        observedAt,
      );
    }
    const journal = text(row.ReplayedJournalId);
    const position = isDecimal(journal) ? journal : undefined;
    if (isMaster(row)) return round.observed(node.nodeId, { role: 'primary', position }, observedAt);
    return round.observed(
      node.nodeId,
      {
        role: 'replica',
        replication: {
          sourceNodeId: masterNodeId,
          linkUp: flag(row.Join) !== false,
          appliedPosition: position,
        },
      },
      observedAt,
    );
  });
}

/**
 * Asks every frontend at once (each under the round's per-node deadline: a frozen frontend must not use up
 * the others' time); in configuration order, the first answer that names a master wins (a frontend cut off
 * from the master sees none), else the first answer at all.
 */
async function readRows(
  target: ProbeTarget,
  rowsOf: FrontendRowSource,
): Promise<{
  rows: readonly FrontendRow[] | undefined;
  answeredBy: string;
  failures: Map<string, unknown>;
}> {
  const failures = new Map<string, unknown>();
  const answers = await Promise.allSettled(target.nodes.map((frontend) => rowsOf(frontend)));
  let first: { rows: readonly FrontendRow[]; answeredBy: string } | undefined;
  let withMaster: { rows: readonly FrontendRow[]; answeredBy: string } | undefined;
  answers.forEach((answer, i) => {
    const nodeId = target.nodes[i]?.nodeId ?? '?';
    if (answer.status === 'rejected') {
      failures.set(nodeId, answer.reason);
      return;
    }
    first ??= { rows: answer.value, answeredBy: nodeId };
    if (answer.value.some(isMaster)) withMaster ??= { rows: answer.value, answeredBy: nodeId };
  });
  const chosen = withMaster ?? first;
  return { rows: chosen?.rows, answeredBy: chosen?.answeredBy ?? '', failures };
}

function nodeIdOf(round: ProbeRound, row: FrontendRow): string | undefined {
  const port = Number(text(row.QueryPort));
  for (const host of [text(row.Host), text(row.IP), text(row.HostName)]) {
    const nodeId = round.nodeIdAt(host, port, 'mysql', FRONTEND_QUERY_PORT);
    if (nodeId !== undefined) return nodeId;
  }
  const name = text(row.Name);
  return round.target.nodes.find((node) => node.nodeId === name)?.nodeId;
}
