/**
 * `replica-sentinel incidents` and `incident show ID`: the incidents in the node-state table (docs/DESIGN.md §3:
 * PK `CLUSTER#<clusterId>`, SK `INCIDENT#<openedAt ISO>#<incidentId>`), newest first, and one incident with
 * its timeline (status changes and runbook steps, in time order).
 */
import { parseArgs } from 'node:util';
import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { allItems, queryPages, scanPages } from '../functions/adapters/paginate';
import { keys } from '../functions/adapters/table-definition';
import type { Incident, IncidentState } from '../functions/core/incidents';
import { age, COLORS, resolveTable, TARGET_OPTIONS, targetHelp, UsageError } from './cli-common';

type Io = { out: (text: string) => void; err: (text: string) => void };

const HELP = {
  incidents: `Usage: replica-sentinel incidents [--cluster ID] [--state open|resolved|failed|all] [--json] [target]

Incidents, newest first: id, cluster, node, kind and severity, state, opened and updated age, the runbook
and its last step (colored on a terminal, plain when piped). --json prints { "incidents": [ … ] }.

  --cluster ID  one cluster's incidents (read by key); without it every cluster's
  --state S     open, resolved, failed or all (default: all)
${targetHelp(16)}`,
  show: `Usage: replica-sentinel incident show INCIDENT_ID [--cluster ID] [--json] [target]

One incident and its timeline: every status change and every runbook step, with its time, in order.
--json prints { "incident": { …, "timeline": [ … ], "runbookSteps": [ … ] } }.

  --cluster ID  the incident's cluster (a direct read by key; without it the table is scanned)
${targetHelp(16)}`,
};

const OPTIONS = { ...TARGET_OPTIONS, cluster: { type: 'string' } } as const;

const STATES: Record<string, IncidentState | undefined> = {
  open: 'OPEN',
  resolved: 'RESOLVED',
  failed: 'FAILED',
  all: undefined,
};

const STATE_COLORS: Record<string, string> = {
  OPEN: '\u001b[33m',
  RESOLVED: '\u001b[32m',
  FAILED: '\u001b[1;31m',
};

/** An incident as stored, without its key attributes. */
type StoredIncident = Incident & { readonly outcome?: string; readonly executionArn?: string };

/** What the CLI shows of an incident: the stored fields minus internals (outbox, step keys, approval token). */
function view(incident: StoredIncident) {
  const { outbox: _outbox, stepKeys: _keys, approvalToken, ...shown } = incident;
  return {
    ...shown,
    timeline: incident.timeline ?? [],
    runbookSteps: incident.runbookSteps ?? [],
    runbookStatus: runbookStatus(incident),
    awaitingApproval: approvalToken !== undefined,
  };
}

/** The runbook and where it is: its last recorded step, 'awaiting approval', or 'not started'. */
function runbookStatus(incident: StoredIncident): string | undefined {
  if (!incident.runbook) return undefined;
  if (incident.approvalToken !== undefined) return 'awaiting approval';
  const last = incident.runbookSteps?.[incident.runbookSteps.length - 1];
  if (last) return last.step;
  return incident.outbox?.runbook ? 'hand-off pending' : 'not started';
}

function strip(item: Record<string, unknown>): StoredIncident {
  const { PK: _pk, SK: _sk, type: _type, ...rest } = item;
  return rest as unknown as StoredIncident;
}

/** A cluster's incident items, newest first (the sort key starts with the opening time). */
function clusterIncidents(client: DynamoDBDocumentClient, tableName: string, clusterId: string) {
  return allItems(
    queryPages(client, {
      TableName: tableName,
      KeyConditionExpression: 'PK = :pk AND begins_with(SK, :incident)',
      ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId), ':incident': keys.incidentPrefix },
      ScanIndexForward: false,
    }),
  );
}

/** Throws the usage error for a cluster that has no item at all in the table. */
async function requireCluster(client: DynamoDBDocumentClient, tableName: string, clusterId: string) {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': keys.clusterPk(clusterId) },
      Limit: 1,
    }),
  );
  if ((Items ?? []).length === 0)
    throw new UsageError(`unknown cluster '${clusterId}': no node has reported for it`);
}

const byNewest = (a: StoredIncident, b: StoredIncident) =>
  b.openedAt - a.openedAt || a.incidentId.localeCompare(b.incidentId);

const iso = (ms: number) => new Date(ms).toISOString();

function paint(tty: boolean, color: string | undefined, text: string): string {
  return tty && color ? `${color}${text}\u001b[0m` : text;
}

/** Columns padded to their widest cell; `colorOf` may color a cell (after padding, so columns stay aligned). */
function renderTable(
  header: string[],
  rows: string[][],
  colorOf: (column: number, cell: string) => string | undefined,
  tty: boolean,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], isHeader: boolean) =>
    cells
      .map((c, i) => {
        const padded = c.padEnd(widths[i] ?? 0);
        return isHeader ? padded : paint(tty, colorOf(i, c), padded);
      })
      .join('  ')
      .trimEnd();
  return [line(header, true), ...rows.map((r) => line(r, false))].join('\n');
}

function useColor(env: NodeJS.ProcessEnv): boolean {
  return process.stdout.isTTY === true && env.NO_COLOR === undefined;
}

export async function incidentsCommand(args: string[], env: NodeJS.ProcessEnv, io: Io, now: number) {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: { ...OPTIONS, state: { type: 'string' } },
  });
  if (values.help) {
    io.out(HELP.incidents);
    return;
  }
  if (positionals.length > 0)
    throw new UsageError(
      `incidents: unexpected argument '${positionals[0]}' (did you mean 'incident show'?)`,
    );
  const stateOption = (values.state ?? 'all').toLowerCase();
  if (!(stateOption in STATES))
    throw new UsageError(`--state: '${values.state}' is not one of open, resolved, failed, all`);
  const wanted = STATES[stateOption];
  const { client, tableName } = await resolveTable(values, env);
  try {
    let items: Record<string, unknown>[];
    if (values.cluster) {
      items = await clusterIncidents(client, tableName, values.cluster);
      if (items.length === 0) await requireCluster(client, tableName, values.cluster);
    } else {
      // Incidents of every cluster: the table has no index by item type (its one GSI holds overdue nodes
      // for the sweep), so this is a filtered Scan. An operator's occasional read; --cluster reads by key.
      items = await allItems(
        scanPages(client, {
          TableName: tableName,
          FilterExpression: '#t = :incident',
          ExpressionAttributeNames: { '#t': 'type' },
          ExpressionAttributeValues: { ':incident': 'incident' },
        }),
      );
    }
    const incidents = items
      .map(strip)
      .filter((i) => wanted === undefined || i.state === wanted)
      .sort(byNewest);
    if (values.json) {
      io.out(JSON.stringify({ incidents: incidents.map(view) }));
      return;
    }
    if (incidents.length === 0) {
      const scope = values.cluster ? ` in cluster ${values.cluster}` : '';
      io.out(`no ${wanted === undefined ? '' : `${stateOption} `}incidents${scope}`);
      return;
    }
    const rows = incidents.map((i) => {
      const status = runbookStatus(i);
      return [
        i.incidentId,
        i.clusterId,
        i.nodeId,
        `${i.kind}/${i.severity}`,
        i.state,
        age(now - i.openedAt),
        age(now - i.updatedAt),
        i.runbook ? `${i.runbook}: ${status}` : '-',
      ];
    });
    const header = ['INCIDENT', 'CLUSTER', 'NODE', 'KIND', 'STATE', 'OPENED', 'UPDATED', 'RUNBOOK'];
    io.out(
      renderTable(
        header,
        rows,
        (column, cell) =>
          column === 3 ? COLORS[cell.split('/')[0] ?? ''] : column === 4 ? STATE_COLORS[cell] : undefined,
        useColor(env),
      ),
    );
  } finally {
    client.destroy();
  }
}

/**
 * The opening time an incident id carries: ids end in `-<version>-<transition time, base 36>` and the
 * incident opens at that transition (core/incidents.ts incidentIdFor), which is also in its sort key.
 */
function openedAtOf(incidentId: string): number | undefined {
  const match = /-\d+-([0-9a-z]+)$/.exec(incidentId);
  const at = match?.[1] ? Number.parseInt(match[1], 36) : Number.NaN;
  return Number.isSafeInteger(at) && at > 0 ? at : undefined;
}

async function findIncident(
  client: DynamoDBDocumentClient,
  tableName: string,
  incidentId: string,
  clusterId: string | undefined,
): Promise<StoredIncident | undefined> {
  if (clusterId) {
    const openedAt = openedAtOf(incidentId);
    if (openedAt !== undefined) {
      const { Item } = await client.send(
        new GetCommand({
          TableName: tableName,
          Key: { PK: keys.clusterPk(clusterId), SK: keys.incidentSkOf({ openedAt, incidentId }) },
        }),
      );
      if (Item) return strip(Item);
    }
    return undefined;
  }
  // Without the cluster the key is unknown (the id does not spell its cluster reversibly): a filtered Scan.
  const items = await allItems(
    scanPages(client, {
      TableName: tableName,
      FilterExpression: '#t = :incident AND incidentId = :id',
      ExpressionAttributeNames: { '#t': 'type' },
      ExpressionAttributeValues: { ':incident': 'incident', ':id': incidentId },
    }),
  );
  return items[0] ? strip(items[0]) : undefined;
}

/** The incident's status changes and runbook steps in one list, in time order. */
function timelineOf(incident: StoredIncident) {
  const changes = (incident.timeline ?? []).map((t) => ({
    at: t.at,
    what: t.event,
    detail: `${t.from ?? '(new)'} → ${t.to}${t.reason ? `: ${t.reason}` : ''}`,
  }));
  const steps = (incident.runbookSteps ?? []).map((s) => ({
    at: s.at,
    what: `runbook ${s.step}`,
    detail: s.detail,
  }));
  return [...changes, ...steps].sort((a, b) => a.at - b.at);
}

export async function incidentShowCommand(args: string[], env: NodeJS.ProcessEnv, io: Io, now: number) {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: OPTIONS,
  });
  if (values.help) {
    io.out(HELP.show);
    return;
  }
  const incidentId = positionals[0];
  if (!incidentId)
    throw new UsageError('incident show: give the incident id (see `replica-sentinel incidents`)');
  if (positionals.length > 1) throw new UsageError(`incident show: unexpected argument '${positionals[1]}'`);
  const { client, tableName } = await resolveTable(values, env);
  try {
    const incident = await findIncident(client, tableName, incidentId, values.cluster);
    if (!incident) {
      if (values.cluster) {
        await requireCluster(client, tableName, values.cluster);
        const known = (await clusterIncidents(client, tableName, values.cluster))
          .slice(0, 3)
          .map((i) => String(i.incidentId));
        throw new UsageError(
          `unknown incident '${incidentId}' in cluster ${values.cluster} (${known.length > 0 ? `its latest: ${known.join(', ')}` : 'it has no incidents'})`,
        );
      }
      throw new UsageError(
        `unknown incident '${incidentId}' (list them with \`replica-sentinel incidents\`)`,
      );
    }
    if (values.json) {
      io.out(JSON.stringify({ incident: view(incident) }));
      return;
    }
    const tty = useColor(env);
    const ago = (ms: number) => `${iso(ms)} (${age(now - ms)} ago)`;
    const figures = [
      incident.lagSeconds !== undefined ? `lag ${incident.lagSeconds}s` : undefined,
      incident.lagUnits !== undefined ? `lag ${incident.lagUnits} units` : undefined,
      incident.appliedPosition !== undefined ? `applied ${incident.appliedPosition}` : undefined,
      incident.sourcePosition !== undefined ? `source ${incident.sourcePosition}` : undefined,
    ].filter((f): f is string => f !== undefined);
    const fields: [string, string | undefined][] = [
      ['cluster', incident.clusterId],
      ['node', `${incident.nodeId} (${incident.role})`],
      ['kind', `${paint(tty, COLORS[incident.kind], incident.kind)} (${incident.severity})`],
      ['state', paint(tty, STATE_COLORS[incident.state], incident.state)],
      ['opened', ago(incident.openedAt)],
      ['updated', ago(incident.updatedAt)],
      ['resolved', incident.resolvedAt !== undefined ? ago(incident.resolvedAt) : undefined],
      ['flaps', incident.flaps > 0 ? String(incident.flaps) : undefined],
      ['runbook', incident.runbook ? `${incident.runbook}: ${runbookStatus(incident)}` : 'none'],
      ['outcome', incident.outcome],
      ['figures', figures.length > 0 ? figures.join(', ') : undefined],
      [
        'plan',
        incident.plan
          ? [
              incident.plan.candidate ? `promote ${incident.plan.candidate}` : 'no candidate',
              incident.plan.reason,
              ...incident.plan.rejected.map((r) => `${r.nodeId} rejected: ${r.reason}`),
            ].join('; ')
          : undefined,
      ],
    ];
    const timeline = timelineOf(incident);
    const width = Math.max(0, ...timeline.map((t) => t.what.length));
    io.out(
      [
        `incident ${incident.incidentId}`,
        ...fields.filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k.padEnd(9)}${v}`),
        '',
        'timeline:',
        ...timeline.map((t) => `  ${iso(t.at)}  ${t.what.padEnd(width)}  ${t.detail}`),
      ].join('\n'),
    );
  } finally {
    client.destroy();
  }
}
