/**
 * `replica-sentinel`, the operator's CLI (docs/DESIGN.md §7). This version has `maintenance set|clear`; local
 * mode's commands join it later. Exit 0 on success; 2 with a one-line reason on stderr on bad usage or
 * any error; `--json` prints one JSON document on stdout.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { MaintenanceService } from '../functions/adapters/maintenance';
import { DynamoNodeStateStore } from '../functions/adapters/node-state-store';
import {
  DEFAULT_LOCAL_PORT,
  LOCAL_TABLE_NAME,
  type Output,
  parseDuration,
  resolveTable,
  TARGET_OPTIONS,
  UsageError,
} from './cli-common';
import { FAILOVER_HELP, RECOVER_HELP } from './cli-failover';
import { isNodeRequestCommand, NODE_REQUEST_HELP } from './cli-node-requests';
import { isOperatorCommand, OPERATOR_HELP, operatorCommand } from './cli-operator';
import { SWITCHOVER_HELP } from './cli-switchover';

export { DEFAULT_LOCAL_PORT, LOCAL_TABLE_NAME, parseDuration, UsageError };

const HELP: Record<string, string> = {
  ...OPERATOR_HELP,
  switchover: SWITCHOVER_HELP,
  ...NODE_REQUEST_HELP,
  failover: FAILOVER_HELP,
  recover: RECOVER_HELP,
  main: `replica-sentinel — replication health monitoring

Usage: replica-sentinel <command> [options]

Commands:
  local up [--port P] start the local stack in the foreground (DynamoDB Local, the pipeline, runbooks)
  watch --config F    apply the clusters file, then probe its nodes and feed heartbeats in
  status [--cluster]  per cluster: mode, epoch, lock; the replication tree with split brain and orphans marked
  maintenance set     mute a cluster or a node until a time (no incident, no recovery)
  maintenance clear   end a maintenance window early
  incidents           open and recent incidents (cluster, node, severity, state, runbook)
  incident show ID    one incident and its timeline
  approve ID          approve the recovery runbook waiting on incident ID (operator API)
  reject ID           reject it (nothing is touched)
  ack ID              close an open, refused or FAILED incident (clears a DATA_LOSS hold); --reason
  unlock              release a cluster's recovery lock (--force stops a running holder); --reason
  pause | resume      a cluster's automation off / on again (detection goes on); --reason
  history             every epoch of a cluster: who or what promoted whom, when, why, data at risk
  switchover --cluster C --reason R [--to NODE] [--dry-run]   planned move of the primary role, no acknowledged write lost
  rejoin --cluster C --node N --reason R    put a node back under the primary (demote / repoint), now, any mode
  rebuild --cluster C --node N --reason R   run the cluster's rebuild hook on a node, then wait until it replicates
  failover --cluster C --reason R [--to NODE] [--force] [--dry-run]   fail a DEAD primary over now, as your decision
  recover ID --cluster C --reason R   re-run a FAILED or stuck incident's runbook (a half-done failover finishes)
  invoke FUNCTION --event FILE   run one handler locally on an event file against the local table
  demo                real Redis primary + 2 replicas: a stall caught, a dead primary failed over

Target (every command):
  --endpoint URL      a local stack (default: http://127.0.0.1:$REPLICA_SENTINEL_LOCAL_PORT, else port ${DEFAULT_LOCAL_PORT})
  --dynamodb-endpoint URL, --table NAME   a DynamoDB (Local) endpoint and table directly
  --stack NAME        a deployed stack instead (its TableName output; AWS credentials and region from the environment)
  --json              one JSON document on stdout
  --help              this help, or a command's`,
  'maintenance set': `Usage: replica-sentinel maintenance set --cluster ID [--node ID] (--for DURATION | --until TIME) --reason TEXT [--by NAME]

Mutes a cluster (all its nodes) or one node: no incident opens and no recovery starts until the window ends.
Recorded in the cluster's maintenance log with who and why.

  --cluster ID      the cluster
  --node ID         one node only (it shows as MAINTENANCE)
  --for DURATION    e.g. 30m, 2h, 1d (at most 30 days)
  --until TIME      an ISO-8601 time, e.g. 2026-11-25T06:00:00Z
  --reason TEXT     why (required)
  --by NAME         who (default: your user name)`,
  'local up': `Usage: replica-sentinel local up [--port P] [--slack-webhook URL] [--sweep-interval 10s]

Starts the local stack in the foreground: DynamoDB Local (needs Java 17+), the table, the ingest handlers
behind POST /heartbeats and POST /change-events on 127.0.0.1:P (default $REPLICA_SENTINEL_LOCAL_PORT or ${DEFAULT_LOCAL_PORT}),
the table stream into on-transition, the sweep, the runbooks from the synthesized state machines, and
notifications printed (and posted to a Slack webhook: --slack-webhook or $REPLICA_SENTINEL_SLACK_WEBHOOK).
Prints a line containing 'ready' once it accepts heartbeats; Ctrl-C or SIGTERM stops everything it started.`,
  watch: `Usage: replica-sentinel watch --config clusters.yaml [--interval 10s] [--rounds N] [--endpoint URL | --stack NAME]

Validates the file (errors name file:line:col and the field), writes each cluster's configuration to the
table, then probes every node each interval (Redis, PostgreSQL, MySQL/MariaDB, Doris/StarRocks) and sends
the heartbeats to the local stack, or to the deployed stack's heartbeats stream with --stack. Each node has
min(5 s, 80% of the interval) to answer; a slower one is reported unreachable. Refused (exit 2) when a
cluster's heartbeatTimeoutSeconds is not above the interval plus that deadline.`,
  'maintenance clear': `Usage: replica-sentinel maintenance clear --cluster ID [--node ID] --reason TEXT [--by NAME]

Ends a maintenance window early. A node is judged again at its next heartbeat.`,
};

async function maintenance(
  action: string | undefined,
  args: string[],
  env: NodeJS.ProcessEnv,
  io: Output,
  now: number,
) {
  if (action !== 'set' && action !== 'clear')
    throw new UsageError(`maintenance: expected 'set' or 'clear', got '${action ?? ''}'`);
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      cluster: { type: 'string' },
      node: { type: 'string' },
      for: { type: 'string' },
      until: { type: 'string' },
      reason: { type: 'string' },
      by: { type: 'string' },
      ...TARGET_OPTIONS,
    },
  });
  if (values.help) {
    io.out(HELP[`maintenance ${action}`] ?? '');
    return;
  }
  io.json = values.json ?? false;
  if (!values.cluster) throw new UsageError('--cluster is required');
  if (!values.reason) throw new UsageError('--reason is required: say why (it is recorded)');
  const by = values.by ?? userInfo().username;
  const target = { clusterId: values.cluster, ...(values.node ? { nodeId: values.node } : {}) };
  const { client, tableName } = await resolveTable(values, env);
  try {
    const service = new MaintenanceService(client, tableName, new DynamoNodeStateStore(client, tableName));
    if (action === 'set') {
      if ((values.for === undefined) === (values.until === undefined))
        throw new UsageError('give exactly one of --for or --until');
      const until =
        values.for !== undefined ? now + parseDuration(values.for) : Date.parse(values.until ?? '');
      if (Number.isNaN(until)) throw new UsageError(`--until: '${values.until}' is not an ISO-8601 time`);
      await service.set(target, { until, by, reason: values.reason }, now);
      const result = { action, ...target, until: new Date(until).toISOString(), by, reason: values.reason };
      io.out(
        io.json
          ? JSON.stringify(result)
          : `maintenance set on ${values.node ? `${values.cluster}/${values.node}` : values.cluster} until ${result.until} (by ${by}: ${values.reason})`,
      );
    } else {
      await service.clear(target, by, values.reason, now);
      const result = { action, ...target, by, reason: values.reason };
      io.out(
        io.json
          ? JSON.stringify(result)
          : `maintenance cleared on ${values.node ? `${values.cluster}/${values.node}` : values.cluster} (by ${by}: ${values.reason})`,
      );
    }
  } finally {
    client.destroy();
  }
}

async function watchCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (text: string) => void; err: (text: string) => void },
) {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      config: { type: 'string' },
      interval: { type: 'string' },
      rounds: { type: 'string' },
      endpoint: { type: 'string' },
      stack: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(HELP.watch ?? '');
    return;
  }
  if (!values.config) throw new UsageError('--config is required (a clusters.yaml file)');
  const { readFile } = await import('node:fs/promises');
  const { parseClusterConfig } = await import('../functions/core/config/parse');
  const { hasProbe } = await import('../functions/adapters/probes');
  const text = await readFile(values.config, 'utf8').catch(() => {
    throw new UsageError(`--config: cannot read ${values.config}`);
  });
  const config = parseClusterConfig(text, values.config, {
    target: values.stack ? 'deployed' : 'local',
    onWarning: (line) => io.err(line),
  });
  const unprobed = config.clusters.filter((c) => !hasProbe(c.engine)).map((c) => `${c.id} (${c.engine})`);
  if (unprobed.length > 0)
    throw new UsageError(`no probe for ${unprobed.join(', ')}: send their heartbeats yourself`);
  const interval = values.interval === undefined ? undefined : parseDuration(values.interval);
  const { defaultProbeDeadlineSeconds, heartbeatTimeoutProblem } = await import(
    '../functions/core/probe-cadence'
  );
  const { resolvePolicy } = await import('../functions/core/policy');
  // Each cluster at its own heartbeatIntervalSeconds, unless --interval sets one for all.
  const tooShort = config.clusters.flatMap((cluster) => {
    const policy = resolvePolicy(cluster.policy);
    const seconds = interval === undefined ? policy.heartbeatIntervalSeconds : interval / 1000;
    const cadence = { intervalSeconds: seconds, deadlineSeconds: defaultProbeDeadlineSeconds(seconds) };
    const problem = heartbeatTimeoutProblem(cadence, policy.heartbeatTimeoutSeconds);
    return problem === undefined ? [] : [`cluster ${cluster.id}: ${problem}`];
  });
  if (tooShort.length > 0)
    throw new UsageError(
      interval === undefined
        ? `--config: ${values.config}: ${tooShort.join('; ')}`
        : `--interval ${values.interval} is too slow for ${tooShort.join('; ')}`,
    );
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0))
    throw new UsageError(`--rounds: '${values.rounds}' is not a positive integer`);
  const { client, tableName } = await resolveTable(values, env);
  const watchModule = await import('./watch');
  let sink: import('./watch').HeartbeatSink;
  if (values.stack) {
    const cfn = new CloudFormationClient({});
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: values.stack }));
    cfn.destroy();
    const output = (key: string) => Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
    const arn = output('HeartbeatStreamArn');
    if (!arn) throw new Error(`stack ${values.stack} has no HeartbeatStreamArn output`);
    const { secretsOutsidePrefix } = await import('./stack-secrets');
    for (const line of secretsOutsidePrefix(config, values.stack, output('ClusterSecretNamePrefix')))
      io.err(line);
    sink = watchModule.kinesisSink(new watchModule.Kinesis({}), arn);
  } else {
    sink = watchModule.localSink(
      values.endpoint ?? `http://127.0.0.1:${env.REPLICA_SENTINEL_LOCAL_PORT ?? DEFAULT_LOCAL_PORT}`,
    );
  }
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  process.once('SIGTERM', () => controller.abort());
  try {
    const result = await watchModule.watch({
      config,
      client,
      tableName,
      sink,
      ...(interval !== undefined ? { intervalMs: interval } : {}),
      ...(rounds !== undefined ? { rounds } : {}),
      signal: controller.signal,
      print: io.out,
    });
    io.out(`watch stopped after ${result.rounds} round(s), ${result.heartbeats} heartbeats sent`);
  } finally {
    client.destroy();
  }
}

async function localUp(args: string[], env: NodeJS.ProcessEnv, io: { out: (text: string) => void }) {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: 'string' },
      'slack-webhook': { type: 'string' },
      'sweep-interval': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    io.out(HELP['local up'] ?? '');
    return;
  }
  const port = Number(values.port ?? env.REPLICA_SENTINEL_LOCAL_PORT ?? DEFAULT_LOCAL_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: '${values.port}' is not a port number`);
  const sweep = values['sweep-interval'] === undefined ? undefined : parseDuration(values['sweep-interval']);
  const { startLocalStack } = await import('./local-stack');
  // The runbooks' state machines are synthesized (or read from the cache) before the stack serves: never
  // in the middle of a first failover or an operator's request.
  const { loadRunbookDefinitions } = await import('./runbook-definitions');
  await loadRunbookDefinitions();
  const stack = await startLocalStack({
    port,
    sweepIntervalMs: sweep,
    ...((values['slack-webhook'] ?? env.REPLICA_SENTINEL_SLACK_WEBHOOK)
      ? { slackWebhookUrl: values['slack-webhook'] ?? env.REPLICA_SENTINEL_SLACK_WEBHOOK }
      : {}),
    print: io.out,
  });
  io.out(
    `replica-sentinel local stack ready on ${stack.url} (DynamoDB Local ${stack.dynamodbEndpoint}, table ${stack.tableName}); Ctrl-C stops it`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  io.out('stopping the local stack');
  await stack.stop();
}

/** Runs the CLI; returns the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: { out: (text: string) => void; err: (text: string) => void } = {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
  },
  now: () => number = Date.now,
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === 'help') {
      io.out(HELP.main ?? '');
      return command === undefined ? 2 : 0;
    }
    if (command === 'maintenance') {
      const [action, ...args] = rest;
      await maintenance(action, args, env, { json: false, out: io.out }, now());
      return 0;
    }
    if (command === 'local') {
      const [action, ...args] = rest;
      if (action !== 'up') throw new UsageError(`local: expected 'up', got '${action ?? ''}'`);
      await localUp(args, env, io);
      return 0;
    }
    if (command === 'watch') {
      await watchCommand(rest, env, io);
      return 0;
    }
    if (command === 'status') {
      const { statusCommand } = await import('./cli-status');
      await statusCommand(rest, env, io, now(), process.stdout.isTTY === true);
      return 0;
    }
    if (command === 'incidents') {
      const { incidentsCommand } = await import('./cli-incidents');
      await incidentsCommand(rest, env, io, now());
      return 0;
    }
    if (command === 'incident') {
      const [action, ...args] = rest;
      if (action !== 'show') throw new UsageError(`incident: expected 'show ID', got '${action ?? ''}'`);
      const { incidentShowCommand } = await import('./cli-incidents');
      await incidentShowCommand(args, env, io, now());
      return 0;
    }
    if (command === 'invoke') {
      const { invokeCommand } = await import('./cli-invoke');
      return await invokeCommand(rest, env, io);
    }
    if (command === 'demo') {
      const { demoCommand } = await import('./cli-demo');
      return await demoCommand(rest, env, io);
    }
    if (isNodeRequestCommand(command)) {
      const { nodeRequestCommand } = await import('./cli-node-requests');
      return await nodeRequestCommand(command, rest, env, io);
    }
    if (command === 'switchover') {
      const { switchoverCommand } = await import('./cli-switchover');
      return await switchoverCommand(rest, env, io);
    }
    if (command === 'failover') {
      const { failoverCommand } = await import('./cli-failover');
      return await failoverCommand(rest, env, io);
    }
    if (command === 'recover') {
      const { recoverCommand } = await import('./cli-failover');
      return await recoverCommand(rest, env, io);
    }
    if (isOperatorCommand(command)) {
      await operatorCommand(command, rest, env, io);
      return 0;
    }
    throw new UsageError(`unknown command '${command}' (try --help)`);
  } catch (error) {
    let message = error instanceof Error ? error.message : String(error);
    const problems = (error as { problems?: unknown[] }).problems;
    if ((error as Error).name === 'ClusterConfigError' && Array.isArray(problems) && problems.length > 1) {
      message = `${message.split('\n')[0]} (and ${problems.length - 1} more in the file)`;
    }
    const hint =
      (error as Error).name === 'ResourceNotFoundException'
        ? ' (is the local stack running, and is --table right?)'
        : (error as { code?: string }).code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)
          ? ' (no local stack answers there: start one, or pass --endpoint / --stack)'
          : '';
    io.err(`replica-sentinel: ${message.split('\n')[0]}${hint}`);
    return 2;
  }
}
