/**
 * `replica-sentinel status`: per cluster its header (mode, epoch, recorded primary, lock and its holder,
 * pause, maintenance, open incidents) and its replication tree (functions/core/topology-view.ts): the
 * primary at the root, each node under the node it follows, split brain, orphans and detached nodes marked
 * loudly. Colored on a terminal unless NO_COLOR is set; `--json` prints one document.
 */
import { parseArgs } from 'node:util';
import { ClusterStatusReader, type ClusterStatusRecord } from '../functions/adapters/cluster-status-reader';
import { mapWithLimit } from '../functions/adapters/concurrency';
import type { DataAtRisk } from '../functions/core/data-at-risk';
import {
  buildTopologyView,
  type TopologyMark,
  type TopologyTreeNode,
  type TopologyView,
} from '../functions/core/topology-view';
import { age, COLORS, resolveTable, TARGET_OPTIONS, targetHelp, UsageError } from './cli-common';

type Io = { out: (text: string) => void };

export const STATUS_HELP = `Usage: replica-sentinel status [--cluster ID] [--json] [target]

Per cluster: mode, epoch, recorded primary, the cluster lock and the run holding it, pause and maintenance,
open incidents; then the replication tree: the primary at the root, each node under the node it follows,
with role, status and for how long, lag, data at risk (what promoting it now would lose), applied position
and heartbeat age. A second writable primary (!! SPLIT BRAIN), a replica following anything but the primary's
tree (!! ORPHAN) and a node following nothing (!! DETACHED) are marked. Colored on a terminal (not with
NO_COLOR), plain when piped. --json prints { "clusters": [ … ], "nodes": [ … ] }; each node has "follows".

  --cluster ID  one cluster (read by key); without it every cluster in the table
${targetHelp(16)}`;

/** One cluster as shown: what was read and its tree. */
export interface ClusterStatus {
  readonly record: ClusterStatusRecord;
  readonly view: TopologyView;
}

export function clusterStatus(record: ClusterStatusRecord, now: number): ClusterStatus {
  return {
    record,
    view: buildTopologyView({
      nodes: record.nodes,
      ...(record.primaryNodeId !== undefined ? { primaryNodeId: record.primaryNodeId } : {}),
      epoch: record.epoch,
      ...(record.lock ? { lockIncidentId: record.lock.incidentId } : {}),
      policy: record.policy,
      now,
    }),
  };
}

/** Every node of the tree, depth first. */
function* walk(nodes: readonly TopologyTreeNode[]): Generator<TopologyTreeNode> {
  for (const node of nodes) {
    yield node;
    yield* walk(node.children);
  }
}

const markJson = (mark: TopologyMark | undefined) =>
  mark ? { kind: mark.kind, loud: mark.loud, reason: mark.reason } : undefined;

/** The `--json` document: `clusters` (header and tree) and `nodes` (flat, by cluster and node id). */
export function statusDocument(clusters: readonly ClusterStatus[]) {
  const tree = (node: TopologyTreeNode): unknown => ({
    nodeId: node.nodeId,
    children: node.children.map(tree),
  });
  return {
    clusters: clusters.map(({ record, view }) => ({
      clusterId: record.clusterId,
      configured: record.configured,
      mode: record.mode,
      epoch: record.epoch,
      primaryNodeId: record.primaryNodeId ?? null,
      rootPrimaryNodeId: view.primaryNodeId ?? null,
      lock: record.lock ?? null,
      paused: record.paused ?? null,
      ...(record.maintenance ? { maintenance: record.maintenance } : {}),
      openIncidents: record.openIncidents,
      splitBrain: view.splitBrain,
      orphans: view.orphans,
      detached: view.detached,
      tree: view.roots.map(tree),
    })),
    nodes: clusters.flatMap(({ record, view }) =>
      [...walk(view.roots)]
        .flatMap((entry) => (entry.node ? [{ entry, node: entry.node }] : []))
        .sort((a, b) => a.node.nodeId.localeCompare(b.node.nodeId))
        .map(({ entry, node: n }) => ({
          clusterId: record.clusterId,
          nodeId: n.nodeId,
          role: n.role,
          status: n.status,
          statusSince: n.statusSince,
          statusReason: n.statusReason ?? '',
          lagSeconds: n.lagSeconds,
          lagUnits: n.lagUnits,
          appliedPosition: n.appliedPosition ?? n.position,
          lastHeartbeatAt: n.lastHeartbeatAt,
          follows: entry.follows ?? null,
          linkUp: n.linkUp,
          mark: markJson(entry.mark),
          dataAtRisk: entry.dataAtRisk,
        })),
    ),
  };
}

const LABELS: Record<TopologyMark['kind'], string> = {
  'split-brain': '!! SPLIT BRAIN',
  orphan: '!! ORPHAN',
  detached: '!! DETACHED',
  demoted: '!! DEMOTED',
  promoting: 'promoting',
};

const LOUD = '\u001b[1;31m';
const RESET = '\u001b[0m';

const paint = (color: boolean, code: string | undefined, text: string) =>
  color && code && text.length > 0 ? `${code}${text}${RESET}` : text;

function lagCell(entry: TopologyTreeNode): string {
  const n = entry.node;
  if (n?.role !== 'replica') return '-';
  const unit = entry.lagUnit === 'bytes' ? ' B' : entry.lagUnit === 'transactions' ? ' tx' : '';
  const parts = [
    ...(n.lagSeconds !== undefined ? [`${n.lagSeconds}s`] : []),
    ...(n.lagUnits !== undefined ? [`${n.lagUnits}${unit}`] : []),
  ];
  return parts.length > 0 ? parts.join(' / ') : '-';
}

function riskCell(risk: DataAtRisk | undefined): string {
  if (!risk) return '-';
  if (!risk.measurable) return 'unknown';
  if (risk.bytes !== undefined) return `${risk.bytes} B`;
  return risk.transactions !== undefined ? `${risk.transactions} tx` : '-';
}

function header(record: ClusterStatusRecord, view: TopologyView, now: number): string[] {
  const primary =
    record.primaryNodeId ??
    (view.primaryNodeId !== undefined ? `${view.primaryNodeId} (not recorded yet)` : 'none');
  const lines = [
    `cluster ${record.clusterId}  mode ${record.mode}  epoch ${record.epoch}  primary ${primary}  lock ${record.lock ? 'held' : 'free'}  open incidents ${record.openIncidents}`,
  ];
  if (record.lock) {
    const { incidentId, runbook, execution, since } = record.lock;
    const about = [
      runbook,
      `execution ${execution}`,
      since !== undefined ? `since ${age(now - since)}` : undefined,
    ];
    lines.push(`  lock held by ${incidentId} (${about.filter((p) => p !== undefined).join(', ')})`);
  }
  if (!record.configured) lines.push('  no cluster item: known from its nodes only (apply a configuration)');
  if (record.paused) {
    const { by, reason, since } = record.paused;
    lines.push(
      `  automation PAUSED${by ? ` by ${by}` : ''}${since !== undefined ? `, ${age(now - since)} ago` : ''}${reason ? `: ${reason}` : ''}`,
    );
  }
  if (record.maintenance && record.maintenance.until > now) {
    const { until, by, reason } = record.maintenance;
    lines.push(
      `  maintenance until ${new Date(until).toISOString()}${by ? ` (by ${by}${reason ? `: ${reason}` : ''})` : ''}`,
    );
  }
  return lines;
}

/** The tree as table rows: the NODE cell carries the branch drawing, the last cell the mark or notes. */
function rows(roots: readonly TopologyTreeNode[], now: number): { cells: string[]; mark?: TopologyMark }[] {
  const out: { cells: string[]; mark?: TopologyMark }[] = [];
  const visit = (entry: TopologyTreeNode, lead: string, branch: string) => {
    const n = entry.node;
    const notes = [
      ...(entry.mark ? [`${LABELS[entry.mark.kind]}: ${entry.mark.reason}`] : []),
      ...(n?.role === 'replica' && n.linkUp === false ? ['(link down)'] : []),
    ];
    out.push({
      cells: [
        `${lead}${branch}${entry.nodeId}`,
        n?.role ?? '-',
        n?.status ?? 'NO REPORT',
        n ? age(now - n.statusSince) : '-',
        lagCell(entry),
        riskCell(entry.dataAtRisk),
        n?.appliedPosition ?? n?.position ?? '-',
        n ? (n.lastHeartbeatAt > 0 ? age(now - n.lastHeartbeatAt) : 'never') : 'never',
        notes.join('  '),
      ],
      ...(entry.mark ? { mark: entry.mark } : {}),
    });
    const childLead = branch === '' ? lead : `${lead}${branch === '└─ ' ? '   ' : '│  '}`;
    entry.children.forEach((child, i) => {
      visit(child, childLead, i === entry.children.length - 1 ? '└─ ' : '├─ ');
    });
  };
  for (const root of roots) visit(root, '', '');
  return out;
}

const COLUMNS = ['NODE', 'ROLE', 'STATUS', 'SINCE', 'LAG', 'AT RISK', 'APPLIED', 'HEARTBEAT', ''];

/** The text output of `status`; `color` adds ANSI colors (a terminal without NO_COLOR). */
export function renderStatus(clusters: readonly ClusterStatus[], now: number, color: boolean): string {
  if (clusters.length === 0) return 'no cluster in the table yet';
  return clusters
    .map(({ record, view }) => {
      const lines = header(record, view, now);
      const body = rows(view.roots, now);
      if (body.length === 0) return [...lines, '  (no node has reported yet)'].join('\n');
      const widths = COLUMNS.map((h, i) => Math.max(h.length, ...body.map((r) => (r.cells[i] ?? '').length)));
      const line = (cells: string[], mark?: TopologyMark) =>
        `  ${cells
          .map((c, i) => {
            const padded = i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0);
            if (i === 2) return paint(color, COLORS[c], padded);
            if (i === cells.length - 1) return paint(color, mark?.loud ? LOUD : undefined, padded);
            return padded;
          })
          .join('  ')
          .trimEnd()}`;
      return [...lines, line(COLUMNS), ...body.map((r) => line(r.cells, r.mark))].join('\n');
    })
    .join('\n\n');
}

export async function statusCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: Io,
  now: number,
  tty: boolean,
): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { cluster: { type: 'string' }, ...TARGET_OPTIONS },
  });
  if (values.help) {
    io.out(STATUS_HELP);
    return;
  }
  const { client, tableName } = await resolveTable(values, env);
  try {
    const reader = new ClusterStatusReader(client, tableName);
    const ids = values.cluster !== undefined ? [values.cluster] : await reader.clusterIds();
    const records = await mapWithLimit(ids, 8, (id) => reader.read(id));
    if (values.cluster !== undefined && records[0] === undefined)
      throw new UsageError(`unknown cluster '${values.cluster}': no node has reported for it`);
    const clusters = records
      .filter((r): r is ClusterStatusRecord => r !== undefined)
      .map((record) => clusterStatus(record, now));
    io.out(
      values.json
        ? JSON.stringify(statusDocument(clusters))
        : renderStatus(clusters, now, tty && env.NO_COLOR === undefined),
    );
  } finally {
    client.destroy();
  }
}
