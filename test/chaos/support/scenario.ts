import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import { isAlive } from '../../../local/server-processes';
import { redisCommand, redisInfo, waitFor } from '../../support/servers';
import type { ChaosEngine } from './engines';
import { checkInvariants, type InvariantReport } from './invariants';
import { LOGS_DIR, recordResult } from './results';
import { type ChaosIncident, type ChaosStack, type ChaosStackOptions, startChaosStack } from './stack';
import { type ChaosNode, type ChaosTopology, serverNode, startRedisChaos, startSqlChaos } from './topology';
import { Writer } from './writer';

/** A scenario's whole budget: starting everything, the fault, the checks and the cleanup. */
export const SCENARIO_TIMEOUT_MS = 240_000;

/** Everything one scenario runs against, started by {@link startCluster}. */
export interface ChaosCluster {
  readonly topology: ChaosTopology;
  readonly stack: ChaosStack;
  readonly writer: Writer;
  /** The initial primary and replicas. */
  readonly primary: ChaosNode;
  readonly replicas: readonly ChaosNode[];
  /**
   * Marks the writes every replica in `on` (default: all replicas) has applied: waits until each holds the
   * writer's last acknowledged write (replication applies in order, so it holds every earlier one too).
   * The writes up to the returned sequence number are the ones the end checks protect.
   */
  checkpoint(on?: readonly ChaosNode[]): Promise<number>;
  /** The end-of-scenario invariants (see invariants.ts), with `checkpoint` from {@link checkpoint}. */
  invariants(checkpoint: number, settleMs?: number): Promise<InvariantReport>;
}

export interface ScenarioContext {
  /** Registers a cleanup; they run in reverse order when the scenario ends, passed or failed. */
  defer(cleanup: () => Promise<unknown> | unknown): void;
  /** Starts the topology, the stack + watch, and the writer (all stopped by the scenario's end). */
  startCluster(options: ClusterOptions): Promise<ChaosCluster>;
  /** One line for the suite's table. */
  note(text: string): void;
  /** Asserts the invariant report found no problem (its lost writes are counted in the figures anyway). */
  expectInvariants(report: InvariantReport): void;
}

export interface ClusterOptions extends Omit<ChaosStackOptions, 'clusterId' | 'engine' | 'nodes'> {
  readonly engine: ChaosEngine;
  /** Redis: every node with an append-only file (a restarted node keeps its data). */
  readonly persistent?: boolean;
  /** Runs once the servers are up, before the stack: returns the cluster's hooks section, if any. */
  readonly prepare?: (topology: ChaosTopology) => Promise<Readonly<Record<string, unknown>> | undefined>;
}

/**
 * One scenario on one engine as a jest test. Whatever it started is stopped at its end, passed or failed,
 * and every process id it started is checked gone; its outcome goes to the suite's table.
 */
export function chaosScenario(
  scenario: string,
  engine: ChaosEngine,
  title: string,
  body: (ctx: ScenarioContext) => Promise<void>,
  timeoutMs = SCENARIO_TIMEOUT_MS,
): void {
  it(
    `${scenario} (${engine}): ${title}`,
    async () => {
      const started = Date.now();
      const cleanups: (() => Promise<unknown> | unknown)[] = [];
      const pids = new Set<number>();
      const figures = { acked: 0, lost: 0 };
      let note = '';
      let describeState: (() => Promise<string>) | undefined;
      let stackLog: readonly string[] = [];
      const ctx: ScenarioContext = {
        defer: (cleanup) => cleanups.push(cleanup),
        note: (text) => {
          note = text;
        },
        expectInvariants(report) {
          expect(report.problems).toEqual([]);
        },
        async startCluster(options) {
          const servers =
            options.engine === 'redis'
              ? await startRedisChaos({
                  prefix: 'redis',
                  ...(options.persistent ? { persistent: true } : {}),
                })
              : await startSqlChaos(options.engine);
          cleanups.push(() => servers.stop());
          // Every fault the scenario causes is marked in the stack's timeline.
          let mark: (text: string) => void = () => undefined;
          const marked =
            <A extends unknown[], R>(what: string, act: (node: ChaosNode, ...rest: A) => R) =>
            (node: ChaosNode, ...rest: A): R => {
              mark(`${what} ${node.nodeId}`);
              return act(node, ...rest);
            };
          const topology: ChaosTopology = {
            ...servers,
            kill: marked('SIGKILL', servers.kill),
            freeze: marked('SIGSTOP', servers.freeze),
            thaw: marked('SIGCONT', servers.thaw),
            restart: marked('restart', servers.restart),
            isolate: marked('cut the network of', servers.isolate),
            heal: marked('heal the network of', servers.heal),
          };
          const trackPids = () => {
            for (const node of topology.nodes) pids.add(node.pid);
          };
          trackPids();
          cleanups.push(trackPids); // restarted nodes have new ids: collected before the stop
          const hooks = await options.prepare?.(topology);
          const stack = await startChaosStack({
            ...options,
            ...(hooks === undefined ? {} : { hooks }),
            clusterId: `chaos-${scenario}`,
            engine: options.engine,
            nodes: topology.nodes,
          });
          if (stack.stack.dynamodbPid !== undefined) pids.add(stack.stack.dynamodbPid);
          describeState = stack.describe;
          mark = stack.mark;
          stackLog = stack.log;
          cleanups.push(() => stack.stop());
          const writer = new Writer(topology.driver, () =>
            topology.nodes.map((n) => ({ nodeId: n.nodeId, address: n.address })),
          );
          writer.start();
          cleanups.push(async () => {
            await writer.stop();
            figures.acked = writer.acked.length;
          });
          await writer.waitForAcks(20);
          const [primary, ...replicas] = topology.nodes as [ChaosNode, ...ChaosNode[]];
          return {
            topology,
            stack,
            writer,
            primary,
            replicas,
            async checkpoint(on = replicas) {
              const seq = writer.lastAcked();
              for (const replica of on) {
                await waitFor(
                  `${replica.nodeId} to apply write ${seq}`,
                  async () => (await topology.driver.present(replica.address, [seq])).has(seq),
                  { timeoutMs: 30_000, intervalMs: 50 },
                );
              }
              return seq;
            },
            async invariants(checkpoint, settleMs) {
              const report = await checkInvariants({
                topology,
                stack,
                writer,
                checkpoint,
                ...(settleMs ? { settleMs } : {}),
              });
              figures.lost = report.lost; // counted even when a later assertion fails
              return report;
            },
          };
        },
      };
      let failure: unknown;
      try {
        await body(ctx);
      } catch (error) {
        failure = error;
        // What the pipeline and the servers looked like, for the failure message.
        const state = await describeState?.().catch(() => undefined);
        if (state !== undefined && error instanceof Error && !error.message.includes('\nnodes:'))
          error.message = `${error.message}\n${state}`;
      } finally {
        for (const cleanup of cleanups.reverse()) {
          try {
            await cleanup();
          } catch (error) {
            failure ??= error;
          }
        }
        if (failure !== undefined) {
          // The whole timeline of a failed scenario, for whoever enables it next.
          mkdirSync(LOGS_DIR, { recursive: true });
          writeFileSync(join(LOGS_DIR, `${scenario}-${engine}.log`), `${stackLog.join('\n')}\n`);
        }
        const left = [...pids].filter(isAlive);
        if (left.length > 0) failure ??= new Error(`processes left running: ${left.join(', ')}`);
        const message = (
          failure instanceof Error ? (failure.message.split('\nnodes:')[0] ?? '') : String(failure ?? '')
        )
          .replace(/\s+/g, ' ')
          .trim();
        recordResult({
          scenario,
          engine,
          passed: failure === undefined,
          acked: figures.acked,
          lost: figures.lost,
          seconds: Math.round((Date.now() - started) / 1000),
          note: failure === undefined ? note : message.slice(0, 300),
        });
      }
      if (failure !== undefined) throw failure;
    },
    timeoutMs,
  );
}

/** Whether a Redis node's own INFO says it replicates from `primary` (through its network address) with its link up. */
export async function redisFollows(replica: ChaosNode, primary: ChaosNode): Promise<boolean> {
  const info = await redisInfo(serverNode(replica));
  return (
    info.get('role') === 'slave' &&
    info.get('master_link_status') === 'up' &&
    Number(info.get('master_port')) === primary.proxy?.port
  );
}

/** Waits, with the suite's generous deadline, for a condition on the servers. */
export function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  return waitFor(what, probe, { timeoutMs, intervalMs: 200 });
}

/** The notifications sent about a node (incident changes and runbook steps), oldest first. */
export function notificationsAbout(stack: ChaosStack, nodeId: string) {
  return stack.notifications.filter((n) => n.metadata.additionalContext.nodeId === nodeId);
}

/** `<eventType> <severity>: <title>` of each notification about the node, for readable assertions. */
export function notificationLines(stack: ChaosStack, nodeId: string): string[] {
  return notificationsAbout(stack, nodeId).map(
    (n) =>
      `${n.metadata.eventType} ${n.metadata.additionalContext.severity ?? ''}: ${n.content.description.split('\n')[0]}`,
  );
}

/** The steps the incident's runbook runs recorded, in order. */
export function stepsOf(incident: ChaosIncident): string[] {
  return (incident.runbookSteps ?? []).map((entry) => entry.step);
}

/** Everything the incident tells about its recovery: outcome and step details, one string. */
export function toldBy(incident: ChaosIncident): string {
  return [incident.outcome ?? '', ...(incident.runbookSteps ?? []).map((s) => `${s.step}: ${s.detail}`)].join(
    '\n',
  );
}

/** Waits for the DEAD incident of the node (opened at or after `since`, default any). */
export function deadIncident(stack: ChaosStack, node: ChaosNode, since = 0): Promise<ChaosIncident> {
  return stack.waitForIncident(
    `a DEAD incident for ${node.nodeId}`,
    (i) => i.nodeId === node.nodeId && i.kind === 'DEAD' && i.openedAt >= since,
  );
}

/** Redis ROLE of a node: 'master', 'slave', or 'down' when it does not answer. */
export async function redisRole(node: ChaosNode): Promise<string> {
  try {
    const role = (await redisCommand(serverNode(node), ['ROLE'])) as unknown[];
    return String(role[0]);
  } catch {
    return 'down';
  }
}
