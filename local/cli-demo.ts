/**
 * `replica-sentinel demo`: runs the real-Redis demo (local/redis-demo.ts), or the SIMULATED one
 * (local/demo.ts) with `--simulated` or without redis-server on PATH, and prints its timeline and summary
 * (or one JSON object with `--json`).
 */
import { parseArgs } from 'node:util';
import { parseDuration, UsageError } from './cli-common';
import { type DemoSummary, formatEvent, runRedisDemo } from './redis-demo';
import { RedisServerMissingError, redisServerCommand } from './redis-servers';
import { stopOnSignals } from './server-processes';

const HELP = `Usage: replica-sentinel demo [--json] [--timeout 120s] [--simulated]

Starts a real Redis primary and two replicas on free loopback ports (redis-server must be on PATH) and the
local stack (needs Java 17+), watches them every second, stalls a replica (CLIENT PAUSE WRITE), then kills
the primary (SIGKILL), and prints the timeline: heartbeats, status changes, notifications, runbook steps,
the promoted replica confirmed by its own INFO replication. Exits 0 only when the stall was caught and the
failover was completed; stops everything it started, also on Ctrl-C.

  --json          one JSON object: stallDetectedAfterMs, failoverCompletedAfterMs, promotedNode, incidents, timeline
  --timeout D     give up after D (default 120s)
  --simulated     the SIMULATED demo (no servers, virtual clock), also the fallback without redis-server`;

type Io = { out: (text: string) => void; err: (text: string) => void };

/** `replica-sentinel demo`; returns the exit code (0 shown, 1 not shown, 130 interrupted). */
export async function demoCommand(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      simulated: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const json = values.json ?? false;
  let timeoutMs = 120_000;
  if (values.timeout !== undefined) {
    try {
      timeoutMs = parseDuration(values.timeout);
    } catch {
      throw new UsageError(`--timeout: '${values.timeout}' is not a duration like 90s or 2m`);
    }
  }
  const started: number[] = [];
  const stop = stopOnSignals({
    what: 'the demo',
    ...(json ? {} : { say: io.out }),
    children: () => started,
  });
  try {
    let redisServer: string | undefined;
    try {
      if (!values.simulated) redisServer = redisServerCommand(env.PATH);
    } catch (error) {
      if (!(error instanceof RedisServerMissingError)) throw error;
      io.err(`${error.message}\nRunning the SIMULATED demo instead (no database servers).`);
    }
    if (redisServer === undefined) {
      const { runSimulatedDemo } = await import('./demo');
      return await runSimulatedDemo({ json, out: io.out, signal: stop.signal });
    }
    if (!json) io.out('replica-sentinel demo — real Redis servers, the real pipeline on DynamoDB Local\n');
    const summary = await runRedisDemo({
      timeoutMs,
      signal: stop.signal,
      redisServer,
      onProcess: ({ pid }) => started.push(pid),
      ...(json ? {} : { print: io.out }),
    });
    if (json) io.out(JSON.stringify(summary, null, 2));
    else printSummary(summary, io.out);
    if (summary.reason === 'interrupted') return 130;
    if (!summary.ok) io.err(`replica-sentinel: demo failed: ${summary.reason ?? 'unknown reason'}`);
    return summary.ok ? 0 : 1;
  } finally {
    stop.dispose();
  }
}

function printSummary(summary: DemoSummary, out: (text: string) => void): void {
  out('\nrunbook steps (from the incidents):');
  for (const event of summary.timeline) if (event.kind === 'runbook-step') out(formatEvent(event));
  out('\nincidents:');
  for (const incident of summary.incidents) {
    out(
      `  ${incident.nodeId.padEnd(8)} ${incident.kind.padEnd(8)} ${incident.severity.padEnd(9)} ${incident.state.padEnd(9)} ` +
        `${incident.runbook ?? ''} ${incident.steps.join(' → ')}`,
    );
  }
  out(
    summary.ok
      ? `\nOK: stall caught ${summary.stallDetectedAfterMs} ms after CLIENT PAUSE; primary failed over to ` +
          `${summary.promotedNode} and confirmed ${summary.failoverCompletedAfterMs} ms after SIGKILL ` +
          `(DEAD after ${summary.deadDetectedAfterMs} ms); all ${summary.processes.length} processes stopped`
      : `\nFAILED: ${summary.reason}`,
  );
}
