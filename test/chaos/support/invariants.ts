import { waitFor } from '../../support/servers';
import type { ChaosIncident, ChaosStack } from './stack';
import type { ChaosTopology } from './topology';
import type { Writer } from './writer';

/** What the end-of-scenario checks found. */
export interface InvariantReport {
  /** Nodes that answer as writable primaries. */
  readonly writable: readonly string[];
  /** Where the protected writes were looked for. */
  readonly checkedOn: readonly string[];
  readonly acked: number;
  /** Acknowledged writes up to the checkpoint (replicated everywhere before the fault). */
  readonly protectedWrites: number;
  /** Protected writes missing on the final primary. */
  readonly missing: number;
  /** Whether an incident's plan stated data at risk (then missing writes are not counted as lost). */
  readonly statedAtRisk: boolean;
  /** Missing writes not stated at risk. */
  readonly lost: number;
  /** Every invariant broken, in words; empty when all hold. */
  readonly problems: readonly string[];
}

export interface InvariantOptions {
  readonly topology: ChaosTopology;
  readonly stack: ChaosStack;
  readonly writer: Writer;
  /** The last sequence number every surviving replica had applied before the fault (see checkpoint()). */
  readonly checkpoint: number;
  /** How long the checks may wait for the cluster to settle (a demotion under way). @default 45 s */
  readonly settleMs?: number;
}

/**
 * A recovery that is active, scheduled or explicitly refused, as the incident tells (issue 11, item 5), or
 * one that completed (a failover promoted another node).
 */
function recoveryOf(stack: ChaosStack, incident: ChaosIncident): string | undefined {
  const last = incident.runbookSteps?.at(-1);
  const told = [incident.outcome ?? '', last?.detail ?? ''].join(' ');
  const steps = (incident.runbookSteps ?? []).map((s) => s.step);
  // Failed over already: the node is an old primary, no longer the cluster's (its item may still say DEAD).
  if (incident.state === 'RESOLVED' && steps.includes('promoted') && steps.includes('completed'))
    return `recovered (${incident.outcome ?? 'failed over'})`;
  if (/waiting/i.test(told)) return `scheduled (${told.trim()})`;
  if (/refused|no eligible replica/i.test(told)) return `refused (${told.trim()})`;
  if (
    incident.runbook !== undefined &&
    stack.runbookLine(incident) === undefined &&
    incident.state === 'OPEN'
  )
    return `active (${incident.runbook}${last ? `, at ${last.step}` : ', starting'})`;
  return undefined;
}

/** One pass of every check. */
async function checkOnce(options: InvariantOptions): Promise<InvariantReport> {
  const { topology, stack, writer } = options;
  const driver = topology.driver;
  const problems: string[] = [];
  const incidents = await stack.incidents();

  // 1. At most one writable primary, or (outside auto, where nothing may demote it) a critical
  //    SPLIT_BRAIN incident open for every extra one.
  const writable: string[] = [];
  for (const node of topology.nodes) {
    if (await driver.writable(node.address).catch(() => false)) writable.push(node.nodeId);
  }
  if (writable.length > 1) {
    const flagged = writable.filter((id) =>
      incidents.some(
        (i) =>
          i.nodeId === id &&
          (i.kind as string) === 'SPLIT_BRAIN' &&
          i.severity === 'critical' &&
          i.state === 'OPEN',
      ),
    );
    const tolerated = stack.mode !== 'auto' && flagged.length >= writable.length - 1;
    if (!tolerated)
      problems.push(
        `${writable.length} writable primaries (${writable.join(', ')}); SPLIT_BRAIN incidents open for: ${flagged.join(', ') || 'none'}`,
      );
  }

  // 2. Every acknowledged write up to the checkpoint is on the final primary (or, with no primary left,
  //    on some surviving node), unless an incident's plan stated data at risk.
  const protectedSeqs = writer.acked.filter((w) => w.seq <= options.checkpoint).map((w) => w.seq);
  const holders = writable.length === 1 ? writable : topology.nodes.map((n) => n.nodeId);
  const found = new Set<number>();
  const checkedOn: string[] = [];
  for (const id of holders) {
    const present = await driver.present(topology.node(id).address, protectedSeqs).catch(() => undefined);
    if (present === undefined) continue;
    checkedOn.push(id);
    for (const seq of present) found.add(seq);
  }
  const missing = protectedSeqs.filter((seq) => !found.has(seq));
  // A plan that stated data at risk (and a gate that allowed it), or a DATA_LOSS incident that names the
  // loss (a restart-empty primary: the loss happened before anything could act) accounts for it.
  const statedAtRisk = incidents.some((i) => {
    if ((i.kind as string) === 'DATA_LOSS' && i.severity === 'critical') return true;
    // Only a plan whose chosen candidate was stated to lose something (or an unmeasurable amount) excuses
    // missing writes: "data at risk: 0 bytes" does not.
    const chosen = i.plan?.atRisk?.find((r) => r.nodeId === i.plan?.candidate);
    return (
      chosen !== undefined &&
      (!chosen.measurable || (chosen.bytes ?? 0) > 0 || (chosen.transactions ?? 0) > 0)
    );
  });
  const lost = statedAtRisk ? 0 : missing.length;
  if (checkedOn.length === 0 && protectedSeqs.length > 0)
    problems.push('no server left to read the writes from');
  if (lost > 0)
    problems.push(
      `${lost} of ${protectedSeqs.length} acknowledged writes made before the fault are missing on ${checkedOn.join(', ')} (first: ${missing.slice(0, 5).join(', ')}), and no plan stated them at risk`,
    );

  // 3. No DEAD primary without an active, scheduled or refused recovery on its incident.
  for (const node of await stack.nodes()) {
    if (node.role !== 'primary' || node.status !== 'DEAD') continue;
    const incident = incidents.filter((i) => i.nodeId === node.nodeId && i.kind === 'DEAD').at(-1);
    if (incident === undefined) {
      problems.push(`${node.nodeId} is a DEAD primary without an incident`);
      continue;
    }
    if (recoveryOf(stack, incident) === undefined)
      problems.push(
        `${node.nodeId} is a DEAD primary and its incident ${incident.incidentId} (${incident.state}) has no active, scheduled or refused recovery: ${incident.outcome ?? incident.runbookSteps?.at(-1)?.detail ?? 'no runbook'}`,
      );
  }

  return {
    writable,
    checkedOn,
    acked: writer.acked.length,
    protectedWrites: protectedSeqs.length,
    missing: missing.length,
    statedAtRisk,
    lost,
    problems,
  };
}

/**
 * The end-of-scenario invariants (issue 11, "How it is shown"), checked on the servers themselves and on
 * the stack's incidents. The cluster is given `settleMs` to reach them (a demotion or a failover still
 * running); the last report is returned either way, for the scenario to assert `problems` is empty.
 */
export async function checkInvariants(options: InvariantOptions): Promise<InvariantReport> {
  let report: InvariantReport | undefined;
  await waitFor(
    'the invariants to hold',
    async () => {
      report = await checkOnce(options);
      return report.problems.length === 0;
    },
    { timeoutMs: options.settleMs ?? 45_000, intervalMs: 500 },
  ).catch(() => undefined);
  return report ?? (await checkOnce(options));
}
