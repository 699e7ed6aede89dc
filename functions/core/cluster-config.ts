/**
 * The cluster configuration file (docs/DESIGN.md §3b), a public contract users write: which clusters exist,
 * how to reach their nodes, their policy, mode and recovery hooks, and where notifications go. The same
 * file drives `watch` locally and the deployed stack (`cdk deploy -c config=clusters.yaml`).
 *
 * Parsing is strict (an unknown key is an error: a typo must not silently do nothing) and every problem is
 * reported at once, each as `clusters.yaml:<line>:<col>: <field path>: <what is wrong>`.
 *
 * Credentials: a node URL may carry a user name anywhere (`postgresql://replicator@db1:5432/app`). A
 * password in a URL is accepted for a local run with a warning (local mode reads it from the URL) and
 * refused for a deployed stack, where the URL would be stored in the table (and in whatever the
 * deployment copies the file into): there the credentials live in Secrets Manager and
 * `credentialsSecretArn` names the secret. No message ever quotes a node URL.
 *
 * YAML 1.2 (so `off` and `no` stay strings). Anchors, aliases and `<<` merge keys work; top-level keys
 * starting with `x-` are ignored, as a place for anchors (`x-policy: &strict { … }`).
 *
 * Pure: no SDK, no file system (the caller reads the file).
 */

import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
} from 'yaml';
import * as z from 'zod';
import { MIN_SWEEP_INTERVAL_SECONDS, sweepIntervalProblem } from './cadence';
import type { NodeFailoverConfig } from './candidate';
import type { ClusterHooks, NodeEndpoint } from './hooks';
import type { ClusterMode } from './incidents';
import { POLICY_DEFAULTS, type PolicyOverrides, PolicyOverridesSchema, resolvePolicy } from './policy';
import { ENGINES, type Engine } from './position';
import {
  deadlineProblem,
  defaultProbeDeadlineSeconds,
  heartbeatTimeoutProblem,
  probeIntervalProblem,
  probeRoundSeconds,
} from './probe-cadence';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS, type FencingMode } from './recovery';
import { HOOK_ACTIONS } from './runbook';

/** Hook actions no automatic runbook needs (see the warning for engines without built-in hooks). */
const OPTIONAL_HOOKS = ['fenceUnreachable', 'stopWrites', 'resumeWrites'] as const;

// The same id rules as the wire format: ids become part of DynamoDB keys.
import { Id } from './wire';

export const CLUSTER_MODES = ['auto', 'approve', 'dry-run', 'off'] as const satisfies readonly ClusterMode[];

/**
 * How an automatic failover treats an old primary it could not fence on the server (README, "Recovery
 * runbooks"). `strict`: Fence passes only when the old primary was positively fenced (demotion or
 * read-only confirmed on it, or its port refused the connection: not serving) or the `fenceUnreachable`
 * hook succeeded. `trust-quorum`: the quorum's DEAD verdict is enough (Redis Sentinel's model): an old
 * primary that is only cut off may keep taking writes that the new one never sees.
 */
export const FENCING_MODES = ['strict', 'trust-quorum'] as const satisfies readonly FencingMode[];
export type { FencingMode };
/** `fencing` of a cluster that does not set it (and of a META item written before the field existed). */
export const DEFAULT_FENCING: FencingMode = 'strict';

/** URL schemes a node of each engine may use; the built-in hooks accept exactly these (hooks/connection.ts). */
export const NODE_URL_SCHEMES: Readonly<Partial<Record<Engine, readonly string[]>>> = Object.freeze({
  redis: ['redis', 'rediss'],
  postgresql: ['postgresql', 'postgres'],
  mysql: ['mysql', 'mariadb'],
  mariadb: ['mysql', 'mariadb'],
});

/** Engines with built-in recovery hooks (functions/adapters/hooks); others need a hook per action. */
export const ENGINES_WITH_BUILTIN_HOOKS: readonly Engine[] = Object.freeze([
  'redis',
  'postgresql',
  'mysql',
  'mariadb',
]);

const EXAMPLE_URL: Readonly<Partial<Record<Engine, string>>> = {
  redis: 'redis://10.0.0.5:6379',
  postgresql: 'postgresql://replicator@10.0.0.5:5432/app',
  mysql: 'mysql://10.0.0.5:3306',
  mariadb: 'mysql://10.0.0.5:3306',
};

/** Loopback hosts an https hook may reach over plain http (local mode and tests; hooks/https.ts). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const SecretArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/, {
    message:
      'must be the complete ARN of a Secrets Manager secret, with its 6-character suffix ' +
      '(arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf, as the Secrets Manager console shows it)',
  });

/** A KMS key ARN (a key id, not an alias). */
export const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(mrk-)?[0-9a-f-]{32,36}$/;

/** The customer-managed KMS key of a secret: the functions reading it get kms:Decrypt through Secrets Manager. */
const KmsKeyArn = z.string().regex(KMS_KEY_ARN_PATTERN, {
  message: 'must be the ARN of a KMS key (arn:aws:kms:<region>:<account>:key/<key id>; not an alias)',
});

/** An IAM role ARN (roles have no region). */
export const ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/;

const RoleArn = z.string().regex(ROLE_ARN_PATTERN, {
  message: 'must be the ARN of an IAM role (arn:aws:iam::<account>:role/<name>)',
});

const LambdaArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/,
    {
      message:
        'must be the ARN of a Lambda function (arn:aws:lambda:<region>:<account>:function:<name>, ' +
        'optionally :<version or alias>)',
    },
  );

/** SSM parameters are lists of strings; a single value or a number is accepted and becomes a list. */
const SsmValue = z.union([z.string(), z.number(), z.boolean()], {
  message: 'must be a string, a number, true/false, or a list of those',
});
const SsmParameters = z.record(
  z.string().min(1),
  z
    .union([SsmValue, z.array(SsmValue)], { message: 'must be a string or a list of strings' })
    .transform((value) => (Array.isArray(value) ? value : [value]).map(String)),
);

const HookSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('builtin') }),
  z.strictObject({ type: z.literal('lambda'), functionArn: LambdaArn }),
  z.strictObject({
    type: z.literal('https'),
    /** Checked (https, or http on loopback) by the cross-field rules, which know the target. */
    url: z.string().min(1),
    secretArn: SecretArn.optional(),
    /** The secret's customer-managed KMS key, if it has one. */
    secretKmsKeyArn: KmsKeyArn.optional(),
  }),
  z
    .strictObject({
      type: z.literal('ssm'),
      documentName: z.string().regex(/^[A-Za-z0-9_.-]{3,128}$/, {
        message:
          'must be the name of an SSM Automation document of the stack account (3 to 128 letters, digits, _ . or -; a name, not an ARN)',
      }),
      parameters: SsmParameters.optional(),
      /** Passed as the document's AutomationAssumeRole; the stack grants iam:PassRole on exactly this role. */
      assumeRoleArn: RoleArn.optional(),
    })
    .refine((hook) => hook.parameters?.AutomationAssumeRole === undefined, {
      path: ['parameters', 'AutomationAssumeRole'],
      message:
        "set the role as the hook's assumeRoleArn instead: the stack grants iam:PassRole on that role only, and fills the parameter from it",
    }),
]);

const HooksSchema = z.strictObject(
  Object.fromEntries(HOOK_ACTIONS.map((action) => [action, HookSchema.optional()])) as Record<
    (typeof HOOK_ACTIONS)[number],
    z.ZodOptional<typeof HookSchema>
  >,
);

const NodeSchema = z.strictObject({
  id: Id,
  /** Checked against the cluster's engine by the cross-field rules. */
  url: z.string().min(1),
  /** Higher is preferred between equally advanced replicas. @default 0 */
  priority: z.number().finite().optional(),
  /** Never promote this node. @default false */
  noPromote: z.boolean().optional(),
});

/** A Slack user id (what Slack sends as `user.id`): U or W, then upper-case letters or digits. */
export const SlackUserId = z.string().regex(/^[UW][A-Z0-9]{6,20}$/, {
  message:
    'must be a Slack user id (profile → ⋮ → Copy member ID): U or W followed by upper-case letters or digits',
});

const ClusterSchema = z.strictObject({
  id: Id,
  engine: z.enum(ENGINES as unknown as [Engine, ...Engine[]]),
  mode: z.enum(CLUSTER_MODES).default('auto'),
  nodes: z.array(NodeSchema).min(2, {
    message: 'a cluster needs at least 2 nodes (a primary and a replica)',
  }),
  policy: PolicyOverridesSchema.default({}),
  /**
   * Per action; an action without an entry uses the engine's built-in hook (`fenceUnreachable` has none:
   * without an entry, an old primary the runbook cannot reach is not fenced).
   */
  hooks: HooksSchema.default({}),
  /** See {@link FENCING_MODES}. @default 'strict' */
  fencing: z.enum(FENCING_MODES).default(DEFAULT_FENCING),
  /** How long a failover in `approve` mode waits for a decision; expiry = reject. */
  approvalTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(365 * 24 * 3600)
    .default(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
  /** Database credentials of the built-in hooks (JSON `{"username", "password"}`), in AWS. */
  credentialsSecretArn: SecretArn.optional(),
  /** The customer-managed KMS key of that secret, if it has one. */
  credentialsKmsKeyArn: KmsKeyArn.optional(),
  /**
   * Slack user ids whose Approve/Reject buttons are accepted for this cluster, instead of the stack-wide
   * list (context `slackAllowedUserIds`).
   */
  slackAllowedUserIds: z.array(SlackUserId).min(1).optional(),
});

const NotificationsSchema = z.strictObject({
  /** Secret holding the Slack incoming-webhook URL that notify-slack posts to. */
  slackWebhookSecretArn: SecretArn.optional(),
  /** The customer-managed KMS key of that secret, if it has one. */
  slackWebhookSecretKeyArn: KmsKeyArn.optional(),
  /** An AWS Chatbot Slack channel subscribed to the alerts topic. */
  chatbot: z
    .strictObject({
      workspaceId: z.string().regex(/^T[A-Z0-9]{8,20}$/, {
        message:
          'must be a Slack workspace (team) id as the AWS Chatbot console shows it: T followed by 8 to 20 upper-case letters or digits',
      }),
      channelId: z.string().regex(/^[CG][A-Z0-9]{8,20}$/, {
        message:
          'must be a Slack channel id (the last part of the channel link): C or G followed by 8 to 20 upper-case letters or digits',
      }),
    })
    .optional(),
});

/** What `probe.intervalSeconds` (removed: a second knob for the same thing) says when a file still has it. */
export const REMOVED_PROBE_INTERVAL_MESSAGE =
  'was removed: the probe function probes each cluster every policy.heartbeatIntervalSeconds of that ' +
  'cluster (the one cadence knob, which watch follows too); delete this line and set heartbeatIntervalSeconds ' +
  "in the clusters' policy instead";

const AwsId = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), {
    message: `must be ${what} id (${prefix}-…, 8 or 17 hex digits)`,
  });

/**
 * Where the functions that reach the databases run (the probe function and runbook-steps): the user's VPC,
 * subnets that reach the database servers, and the functions' security groups. Deployed stacks only.
 */
const NetworkSchema = z.strictObject({
  vpcId: AwsId('vpc', 'a VPC'),
  subnetIds: z.array(AwsId('subnet', 'a subnet')).min(1).max(16),
  securityGroupIds: z.array(AwsId('sg', 'a security group')).min(1).max(5),
  /**
   * Create the VPC endpoints the functions need without a NAT: interface endpoints for Kinesis, Secrets
   * Manager, SSM, Step Functions and SNS in the subnets, a DynamoDB gateway endpoint on `routeTableIds`.
   * @default false
   */
  vpcEndpoints: z.boolean().default(false),
  /** Route tables of the subnets, for the DynamoDB gateway endpoint (required with `vpcEndpoints: true`). */
  routeTableIds: z.array(AwsId('rtb', 'a route table')).min(1).max(16).optional(),
});

/**
 * The probe Lambda of a deployed stack (`cdk deploy -c config=…`): it probes the clusters' nodes on a
 * schedule from inside the user's VPC and puts the heartbeats on the stack's heartbeats stream. Ignored by
 * `watch`, which is a probe itself.
 */
const ProbeSchema = z.strictObject({
  /** Deploy the probe function. @default true (a `probe` section turns it on; `enabled: false` keeps the settings but deploys nothing) */
  enabled: z.boolean().default(true),
  /** Removed: see {@link REMOVED_PROBE_INTERVAL_MESSAGE}. */
  intervalSeconds: z.undefined({ error: REMOVED_PROBE_INTERVAL_MESSAGE }).optional(),
  /**
   * How long each node has to answer in a round, from the round's start; a node that does not is reported
   * unreachable (for itself only) and its connection closed. Must be less than the time between two rounds
   * (the greatest common divisor of the probed clusters' `heartbeatIntervalSeconds` and 60).
   *
   * @default min(5, 0.8 × the time between two rounds) (core/probe-cadence.ts)
   */
  deadlineSeconds: z.number().positive().finite().optional(),
  /** Ids of the clusters to probe. @default - every cluster whose engine has a built-in probe */
  clusters: z.array(Id).min(1).optional(),
  /**
   * Database login (JSON `{"username", "password"}`) of the probes for clusters without their own
   * `credentialsSecretArn`. @default - the cluster's secret, else the user name of the node URL, no password
   */
  credentialsSecretArn: SecretArn.optional(),
  /** The customer-managed KMS key of that secret, if it has one. */
  credentialsKmsKeyArn: KmsKeyArn.optional(),
  /** Deprecated: the top-level `network` section (same fields), which runbook-steps uses too. */
  network: NetworkSchema.optional(),
  /** The `observerId` of the heartbeats. @default 'probe-lambda' */
  observerId: Id.optional(),
});

/**
 * The file's shape. {@link parseClusterConfig} adds the rules across fields (unique ids, URL schemes per
 * engine, credentials in URLs) and the line and column of each problem; use it rather than this schema.
 */
export const ClusterConfigSchema = z
  .strictObject({
    clusters: z.array(ClusterSchema).min(1, { message: 'must list at least one cluster' }),
    notifications: NotificationsSchema.optional(),
    network: NetworkSchema.optional(),
    probe: ProbeSchema.optional(),
  })
  .superRefine((config, ctx) => {
    for (const issue of crossFieldIssues(config, { target: 'local' })) {
      if (issue.severity === 'error')
        ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
  });

/** A validated configuration, defaults applied (`policy` holds the overrides as written). */
export type ClusterConfig = z.output<typeof ClusterConfigSchema>;
export type ClusterSpec = ClusterConfig['clusters'][number];
export type ClusterConfigInput = z.input<typeof ClusterConfigSchema>;
export type ProbeConfig = NonNullable<ClusterConfig['probe']>;

export interface ParseClusterConfigOptions {
  /**
   * `deployed` (cdk synth, `--stack`): a password in a node URL is an error, and so is a hook URL on
   * loopback. `local` (watch on a laptop): a password in a URL is a warning.
   *
   * @default 'local'
   */
  readonly target?: 'local' | 'deployed';
  /** For `deployed`: every ARN must be in this region (the stack's). */
  readonly region?: string;
  /**
   * The engines with a built-in probe (`PROBED_ENGINES` of functions/adapters/probes): a cluster of another
   * engine named in `probe.clusters` is an error, one left out of it by default is a warning.
   *
   * @default - the engines of the probed clusters are not checked
   */
  readonly probedEngines?: readonly Engine[];
  /** Receives each warning, formatted like the errors. @default - warnings are dropped */
  readonly onWarning?: (message: string) => void;
}

/** One problem of a configuration file, located in it (line and column are 1-based). */
export interface ConfigProblem {
  readonly severity: 'error' | 'warning';
  readonly line: number;
  readonly col: number;
  /** `clusters[1].nodes[0].url`; empty for a YAML syntax error or the file as a whole. */
  readonly path: string;
  readonly message: string;
}

/** `clusters.yaml:4:14: clusters[0].nodes[1].url: <message>` */
export function formatConfigProblem(sourceName: string, problem: ConfigProblem): string {
  const where = `${sourceName}:${problem.line}:${problem.col}: `;
  return `${where}${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`;
}

/** The file is not a valid configuration. `message` has one line per problem, in file order. */
export class ClusterConfigError extends Error {
  override readonly name = 'ClusterConfigError';
  constructor(
    readonly sourceName: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(problems.map((problem) => formatConfigProblem(sourceName, problem)).join('\n'));
  }
}

export interface ClusterConfigCheck {
  /** Present when there is no error. */
  readonly config?: ClusterConfig;
  readonly errors: readonly ConfigProblem[];
  readonly warnings: readonly ConfigProblem[];
}

/**
 * Parses and validates a configuration file; throws {@link ClusterConfigError} listing every problem.
 *
 * @example
 * const config = parseClusterConfig(readFileSync('clusters.yaml', 'utf8'), 'clusters.yaml', {
 *   target: 'deployed',
 *   region: stack.region,
 * });
 */
export function parseClusterConfig(
  text: string,
  sourceName = 'clusters.yaml',
  options: ParseClusterConfigOptions = {},
): ClusterConfig {
  const check = checkClusterConfig(text, options);
  for (const warning of check.warnings) options.onWarning?.(formatConfigProblem(sourceName, warning));
  if (!check.config) throw new ClusterConfigError(sourceName, check.errors);
  return check.config;
}

/** Like {@link parseClusterConfig}, but returns errors and warnings instead of throwing (for `--json`). */
export function checkClusterConfig(
  text: string,
  options: ParseClusterConfigOptions = {},
): ClusterConfigCheck {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(offset);
  const yamlWarnings = doc.warnings.map((w) => yamlProblem('warning', w.message, at(w.pos[0])));
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => yamlProblem('error', e.message, at(e.pos[0])));
    return { errors: sortProblems(errors), warnings: yamlWarnings };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { errors: [yamlProblem('error', (error as Error).message, { line: 1, col: 1 })], warnings: [] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const start = doc.contents?.range[0] ?? 0;
    const found = raw === null || raw === undefined ? 'the file is empty' : `found ${describe(raw)}`;
    return {
      errors: [
        {
          severity: 'error',
          ...at(start),
          path: '',
          message: `must be a mapping with a clusters list (${found})`,
        },
      ],
      warnings: yamlWarnings,
    };
  }

  // Top-level `x-…` keys are ignored: a place for YAML anchors shared by clusters (as in Compose files).
  const input = Object.fromEntries(Object.entries(raw).filter(([key]) => !key.startsWith('x-')));
  const locator = new Locator(doc, lineCounter);
  const issues: PathIssue[] = [];
  const result = ClusterConfigSchema.safeParse(input, { error: (iss) => defaultMessage(iss) });
  for (const issue of result.error?.issues ?? []) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        issues.push({
          severity: 'error',
          path: [...path, key],
          at: 'key',
          message: unknownKeyMessage(key, knownKeys(ClusterConfigSchema, path, input)),
        });
      }
    } else issues.push({ severity: 'error', path, message: issue.message });
  }
  // The cross-field rules also run inside the schema, but zod skips them once a field is wrong: run them
  // on the raw input too so every problem is reported at once (duplicates are dropped below).
  issues.push(...crossFieldIssues(input, options));

  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const id = `${issue.severity}|${issue.path.join('.')}|${issue.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({
      severity: issue.severity,
      ...locator.position(issue.path, issue.at ?? 'value'),
      path: formatPath(issue.path),
      message: issue.message,
    });
  }
  const errors = sortProblems(problems.filter((p) => p.severity === 'error'));
  const warnings = sortProblems([...yamlWarnings, ...problems.filter((p) => p.severity === 'warning')]);
  if (errors.length > 0 || !result.success) return { errors, warnings };
  return { config: result.data, errors, warnings };
}

/** What a cluster's META item (`CLUSTER#<id>` / `META`) holds from the configuration file. */
export interface ClusterItemConfig {
  readonly clusterId: string;
  readonly engine: Engine;
  readonly mode: ClusterMode;
  /** Read by the failover runbook's Fence step; an item without it is {@link DEFAULT_FENCING}. */
  readonly fencing: FencingMode;
  /** The overrides as written; defaults are resolved when read (so a new default reaches old items). */
  readonly policy: PolicyOverrides;
  readonly nodes: readonly (NodeEndpoint & NodeFailoverConfig)[];
  readonly hooks: ClusterHooks;
  readonly approvalTimeoutSeconds: number;
  readonly credentialsSecretArn?: string;
  readonly slackAllowedUserIds?: readonly string[];
}

/** The META attributes the configuration owns: applying a file sets these (and removes absent ones). */
export const CONFIG_OWNED_FIELDS = [
  'clusterId',
  'engine',
  'mode',
  'fencing',
  'policy',
  'nodes',
  'hooks',
  'approvalTimeoutSeconds',
  'credentialsSecretArn',
  'slackAllowedUserIds',
] as const satisfies readonly (keyof ClusterItemConfig)[];

/** META attributes the runbooks and the CLI maintain: a configuration never writes them. */
export const RUNTIME_FIELDS = [
  'epoch',
  'epochIncidentId',
  'epochCandidate',
  'fencedNodeId',
  'primaryNodeId',
  'lockIncidentId',
  'lockSince',
  'lastRecoveryAt',
  'activeIncidentId',
  'maintenanceUntil',
  'maintenanceBy',
  'maintenanceReason',
  'maintenanceLog',
  'pausedBy',
  'pausedReason',
  'pausedAt',
  'operatorLog',
] as const;

/** Per cluster, the fields of its META item that the configuration owns (never the runtime fields). */
export function toClusterItems(config: ClusterConfig): ClusterItemConfig[] {
  return config.clusters.map((cluster) => ({
    clusterId: cluster.id,
    engine: cluster.engine,
    mode: cluster.mode,
    fencing: cluster.fencing,
    policy: { ...cluster.policy },
    nodes: cluster.nodes.map((node) => ({
      nodeId: node.id,
      url: node.url,
      ...(node.priority === undefined ? {} : { priority: node.priority }),
      ...(node.noPromote === undefined ? {} : { noPromote: node.noPromote }),
    })),
    hooks: Object.fromEntries(
      Object.entries(cluster.hooks).filter(([, spec]) => spec !== undefined),
    ) as ClusterHooks,
    approvalTimeoutSeconds: cluster.approvalTimeoutSeconds,
    ...(cluster.credentialsSecretArn === undefined
      ? {}
      : { credentialsSecretArn: cluster.credentialsSecretArn }),
    ...(cluster.slackAllowedUserIds === undefined
      ? {}
      : { slackAllowedUserIds: [...cluster.slackAllowedUserIds] }),
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Cross-field rules, on input that may be malformed anywhere.

type Path = (string | number)[];

interface PathIssue {
  readonly severity: 'error' | 'warning';
  readonly path: Path;
  readonly message: string;
  /** Locate the problem at the key itself (unknown keys) rather than at its value. */
  readonly at?: 'key' | 'value';
}

/** The error for `hooks.fenceUnreachable.type: builtin`. */
export const FENCE_UNREACHABLE_BUILTIN =
  'fenceUnreachable has no built-in hook: fencing a node the runbook cannot reach takes its infrastructure ' +
  '(stop the instance, cut its security group), not a database connection: use lambda, ssm or https';

/** The warning for a cluster in mode auto with neither a fenceUnreachable hook nor fencing: trust-quorum. */
export const NO_POSITIVE_FENCING =
  'mode auto without a way to fence an unreachable primary: an old primary the runbook cannot reach ' +
  '(partitioned or frozen) blocks the failover and pages; a primary that refuses connections counts as ' +
  'fenced. Add a fenceUnreachable hook (lambda, ssm or https: stop the instance, cut its security group), ' +
  'or set fencing: trust-quorum to fail over on the quorum alone and accept that a cut-off old primary may ' +
  'keep taking writes';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function crossFieldIssues(raw: unknown, options: ParseClusterConfigOptions): PathIssue[] {
  if (!isRecord(raw)) return [];
  const issues: PathIssue[] = [];
  const deployed = options.target === 'deployed';
  const clusterIds = new Map<string, number>();
  listOf(raw.clusters).forEach((cluster, c) => {
    if (!isRecord(cluster)) return;
    const base: Path = ['clusters', c];
    if (typeof cluster.id === 'string') {
      const first = clusterIds.get(cluster.id);
      if (first === undefined) clusterIds.set(cluster.id, c);
      else
        issues.push({
          severity: 'error',
          path: [...base, 'id'],
          message: `duplicate cluster id "${cluster.id}" (also clusters[${first}].id)`,
        });
    }
    const engine =
      typeof cluster.engine === 'string' && (ENGINES as readonly string[]).includes(cluster.engine)
        ? (cluster.engine as Engine)
        : undefined;
    const nodeIds = new Map<string, number>();
    listOf(cluster.nodes).forEach((node, n) => {
      if (!isRecord(node)) return;
      const nodePath: Path = [...base, 'nodes', n];
      if (typeof node.id === 'string') {
        const first = nodeIds.get(node.id);
        if (first === undefined) nodeIds.set(node.id, n);
        else
          issues.push({
            severity: 'error',
            path: [...nodePath, 'id'],
            message: `duplicate node id "${node.id}" in this cluster (also clusters[${c}].nodes[${first}].id)`,
          });
      }
      if (typeof node.url === 'string' && node.url !== '') {
        issues.push(...nodeUrlIssues(node.url, engine, [...nodePath, 'url'], deployed));
      }
    });
    if (isRecord(cluster.hooks)) {
      for (const [action, spec] of Object.entries(cluster.hooks)) {
        if (!isRecord(spec)) continue;
        const hookPath: Path = [...base, 'hooks', action];
        if (action === 'fenceUnreachable' && spec.type === 'builtin') {
          issues.push({
            severity: 'error',
            path: [...hookPath, 'type'],
            message: FENCE_UNREACHABLE_BUILTIN,
          });
        } else if (
          spec.type === 'builtin' &&
          engine !== undefined &&
          !ENGINES_WITH_BUILTIN_HOOKS.includes(engine)
        ) {
          issues.push({
            severity: 'error',
            path: [...hookPath, 'type'],
            message: `${engine} has no built-in hooks (only ${ENGINES_WITH_BUILTIN_HOOKS.join(', ')} do): use lambda, https or ssm`,
          });
        }
        if (spec.type === 'https' && typeof spec.url === 'string' && spec.url !== '') {
          const problem = httpsHookUrlProblem(spec.url, deployed);
          if (problem) issues.push({ severity: 'error', path: [...hookPath, 'url'], message: problem });
        }
      }
    }
    if (
      engine !== undefined &&
      !ENGINES_WITH_BUILTIN_HOOKS.includes(engine) &&
      (cluster.mode === undefined || cluster.mode === 'auto' || cluster.mode === 'approve')
    ) {
      const hooks = isRecord(cluster.hooks) ? cluster.hooks : {};
      // fenceUnreachable is optional for every engine (see the fencing warning below); stopWrites and
      // resumeWrites serve only a switchover an operator asks for, which refuses clearly without them.
      const missing = HOOK_ACTIONS.filter(
        (action) => !(OPTIONAL_HOOKS as readonly string[]).includes(action) && hooks[action] === undefined,
      );
      if (missing.length > 0) {
        issues.push({
          severity: 'warning',
          path: [...base, 'engine'],
          message: `${engine} has no built-in hooks and this cluster has none for ${missing.join(', ')}: a runbook that needs one fails and pages (give hooks, or mode: dry-run or off)`,
        });
      }
    }
    const mode = cluster.mode === undefined ? 'auto' : cluster.mode;
    const hooks = isRecord(cluster.hooks) ? cluster.hooks : {};
    if (mode === 'auto' && cluster.fencing !== 'trust-quorum' && !isRecord(hooks.fenceUnreachable)) {
      issues.push({
        severity: 'warning',
        path: cluster.mode === undefined ? base : [...base, 'mode'],
        message: NO_POSITIVE_FENCING,
      });
    }
  });
  issues.push(...probeIssues(raw, options));
  if (deployed) issues.push(...deployedSweepIssues(raw));
  issues.push(...secretKeyIssues(raw));
  issues.push(...networkIssues(raw));
  if (deployed && options.region !== undefined) issues.push(...regionIssues(raw, options.region));
  return issues;
}

/** Each secret field of the file and the field of its KMS key, where they sit. */
function secretFields(
  raw: Record<string, unknown>,
): { record: Record<string, unknown>; path: Path; secret: string; key: string }[] {
  const fields: { record: Record<string, unknown>; path: Path; secret: string; key: string }[] = [];
  listOf(raw.clusters).forEach((cluster, c) => {
    if (!isRecord(cluster)) return;
    fields.push({
      record: cluster,
      path: ['clusters', c],
      secret: 'credentialsSecretArn',
      key: 'credentialsKmsKeyArn',
    });
    if (!isRecord(cluster.hooks)) return;
    for (const [action, spec] of Object.entries(cluster.hooks)) {
      if (isRecord(spec))
        fields.push({
          record: spec,
          path: ['clusters', c, 'hooks', action],
          secret: 'secretArn',
          key: 'secretKmsKeyArn',
        });
    }
  });
  if (isRecord(raw.notifications))
    fields.push({
      record: raw.notifications,
      path: ['notifications'],
      secret: 'slackWebhookSecretArn',
      key: 'slackWebhookSecretKeyArn',
    });
  if (isRecord(raw.probe))
    fields.push({
      record: raw.probe,
      path: ['probe'],
      secret: 'credentialsSecretArn',
      key: 'credentialsKmsKeyArn',
    });
  return fields;
}

/** One network section: the top-level one; `probe.network` is its old place. */
function networkIssues(raw: Record<string, unknown>): PathIssue[] {
  const issues: PathIssue[] = [];
  const probeNetwork = isRecord(raw.probe) ? raw.probe.network : undefined;
  if (probeNetwork !== undefined) {
    issues.push(
      raw.network !== undefined
        ? {
            severity: 'error',
            path: ['probe', 'network'],
            message:
              'give the network once, in the top-level network section (probe and runbook-steps use it)',
          }
        : {
            severity: 'warning',
            path: ['probe', 'network'],
            message:
              'is deprecated: move it to the top-level network section, which runbook-steps uses too (taken as that section for now)',
          },
    );
  }
  const network = raw.network ?? probeNetwork;
  if (isRecord(network) && network.vpcEndpoints === true && network.routeTableIds === undefined) {
    issues.push({
      severity: 'error',
      path: [
        raw.network === undefined ? 'probe' : 'network',
        ...(raw.network === undefined ? ['network'] : []),
        'vpcEndpoints',
      ],
      message: 'needs routeTableIds (the route tables of the subnets) for the DynamoDB gateway endpoint',
    });
  }
  return issues;
}

/** The network section in force: the top-level one, else the deprecated `probe.network`. */
export function networkOf(config: ClusterConfig): ClusterConfig['network'] {
  return config.network ?? config.probe?.network;
}

/** A KMS key field needs the secret it decrypts. */
function secretKeyIssues(raw: Record<string, unknown>): PathIssue[] {
  return secretFields(raw)
    .filter(({ record, secret, key }) => record[key] !== undefined && record[secret] === undefined)
    .map(({ path, secret, key }) => ({
      severity: 'error' as const,
      path: [...path, key],
      message: `is the KMS key of ${secret}, which is not given`,
    }));
}

/**
 * The deployed sweep runs at most every MIN_SWEEP_INTERVAL_SECONDS and must run at least twice per
 * heartbeat timeout (core/cadence.ts): a written heartbeatTimeoutSeconds below twice that floor cannot be
 * honored by a deployed stack (locally, `local up --sweep-interval` can sweep faster).
 */
function deployedSweepIssues(raw: Record<string, unknown>): PathIssue[] {
  const issues: PathIssue[] = [];
  listOf(raw.clusters).forEach((cluster, c) => {
    if (!isRecord(cluster) || !isRecord(cluster.policy)) return;
    const timeout = cluster.policy.heartbeatTimeoutSeconds;
    if (typeof timeout !== 'number' || !(timeout > 0)) return;
    const problem = sweepIntervalProblem(MIN_SWEEP_INTERVAL_SECONDS, timeout);
    if (problem === undefined) return;
    issues.push({
      severity: 'error',
      path: ['clusters', c, 'policy', 'heartbeatTimeoutSeconds'],
      message: `${problem} at the fastest a deployed stack sweeps: use at least ${2 * MIN_SWEEP_INTERVAL_SECONDS} s`,
    });
  });
  return issues;
}

/** The probe section against the clusters: names that exist, engines that can be probed, a useful interval. */
function probeIssues(raw: Record<string, unknown>, options: ParseClusterConfigOptions): PathIssue[] {
  const probe = raw.probe;
  if (!isRecord(probe) || probe.enabled === false) return [];
  const issues: PathIssue[] = [];
  const clusters = listOf(raw.clusters).filter(isRecord);
  const engineOf = new Map(clusters.map((cluster) => [cluster.id, cluster.engine]));
  const canProbe = (engine: unknown) =>
    options.probedEngines === undefined || options.probedEngines.includes(engine as Engine);
  const probed = new Set<unknown>();
  if (Array.isArray(probe.clusters)) {
    probe.clusters.forEach((id, i) => {
      const path: Path = ['probe', 'clusters', i];
      if (probed.has(id)) issues.push({ severity: 'error', path, message: `lists "${id}" twice` });
      else if (!engineOf.has(id)) {
        if (typeof id === 'string')
          issues.push({ severity: 'error', path, message: `no cluster "${id}" in clusters` });
      } else if (!canProbe(engineOf.get(id))) {
        issues.push({
          severity: 'error',
          path,
          message: `cluster "${id}" is ${String(engineOf.get(id))}, which has no built-in probe (built in: ${options.probedEngines?.join(', ')}): its nodes must send heartbeats themselves`,
        });
      }
      probed.add(id);
    });
  } else {
    clusters.forEach((cluster, c) => {
      if (canProbe(cluster.engine)) probed.add(cluster.id);
      else if (typeof cluster.engine === 'string') {
        issues.push({
          severity: 'warning',
          path: ['clusters', c, 'engine'],
          message: `${cluster.engine} has no built-in probe: the probe function leaves this cluster out (its nodes must send heartbeats themselves)`,
        });
      }
    });
    if (probed.size === 0 && clusters.length > 0) {
      issues.push({
        severity: 'error',
        path: ['probe'],
        message: `no cluster can be probed (built-in probes: ${options.probedEngines?.join(', ')}): remove the probe section or set enabled: false`,
      });
    }
  }
  // One cadence knob: each probed cluster is probed every heartbeatIntervalSeconds of its policy.
  const probedClusters = clusters
    .map((cluster, c) => {
      const policy = isRecord(cluster.policy) ? cluster.policy : {};
      const writtenInterval = typeof policy.heartbeatIntervalSeconds === 'number';
      const writtenTimeout = typeof policy.heartbeatTimeoutSeconds === 'number';
      return {
        cluster,
        c,
        writtenInterval,
        writtenTimeout,
        interval: writtenInterval
          ? (policy.heartbeatIntervalSeconds as number)
          : POLICY_DEFAULTS.heartbeatIntervalSeconds,
        timeout: writtenTimeout
          ? (policy.heartbeatTimeoutSeconds as number)
          : POLICY_DEFAULTS.heartbeatTimeoutSeconds,
      };
    })
    .filter(({ cluster }) => probed.has(cluster.id));
  let schedulable = true;
  for (const { c, interval } of probedClusters) {
    if (!(interval > 0)) return issues; // reported by the schema
    const problem = probeIntervalProblem(interval);
    if (problem === undefined) continue;
    schedulable = false;
    issues.push({
      severity: 'error',
      path: ['clusters', c, 'policy', 'heartbeatIntervalSeconds'],
      message: problem,
    });
  }
  if (!schedulable) return issues;
  const roundSeconds = probeRoundSeconds(probedClusters.map(({ interval }) => interval));
  const deadlineSeconds =
    typeof probe.deadlineSeconds === 'number' && probe.deadlineSeconds > 0
      ? probe.deadlineSeconds
      : defaultProbeDeadlineSeconds(roundSeconds);
  const tooLong = deadlineProblem({ intervalSeconds: roundSeconds, deadlineSeconds });
  if (tooLong !== undefined) {
    issues.push({ severity: 'error', path: ['probe', 'deadlineSeconds'], message: tooLong });
    return issues;
  }
  for (const { cluster, c, interval, timeout, writtenInterval, writtenTimeout } of probedClusters) {
    const problem = heartbeatTimeoutProblem({ intervalSeconds: interval, deadlineSeconds }, timeout);
    if (problem === undefined) continue;
    const field = writtenTimeout || !writtenInterval ? 'heartbeatTimeoutSeconds' : 'heartbeatIntervalSeconds';
    issues.push(
      writtenTimeout || writtenInterval
        ? { severity: 'error', path: ['clusters', c, 'policy', field], message: problem }
        : {
            severity: 'error',
            path: ['probe', 'deadlineSeconds'],
            message: `cluster ${String(cluster.id)} (clusters[${c}]): ${problem}`,
          },
    );
  }
  return issues;
}

/**
 * When the probe function runs its rounds: every `roundSeconds` (the greatest common divisor of the probed
 * clusters' `heartbeatIntervalSeconds` and 60), each node given `deadlineSeconds` (`probe.deadlineSeconds`,
 * else derived from `roundSeconds`). A validated configuration's targets always fit.
 */
export function probeSchedule(
  targets: readonly Pick<ProbeTargetConfig, 'intervalSeconds'>[],
  probe: ProbeConfig,
): {
  readonly roundSeconds: number;
  readonly deadlineSeconds: number;
} {
  const roundSeconds = probeRoundSeconds(targets.map((target) => target.intervalSeconds));
  return {
    roundSeconds,
    deadlineSeconds: probe.deadlineSeconds ?? defaultProbeDeadlineSeconds(roundSeconds),
  };
}

/** One cluster as the probe function sees it: what to probe, and the secret with its database login. */
export interface ProbeTargetConfig {
  readonly clusterId: string;
  readonly engine: Engine;
  readonly nodes: readonly NodeEndpoint[];
  /** The cluster's `credentialsSecretArn`, else the probe section's; absent: the URL's user name only. */
  readonly credentialsSecretArn?: string;
  /** Seconds between two probes of the cluster: its policy's `heartbeatIntervalSeconds`. */
  readonly intervalSeconds: number;
}

/**
 * The clusters the probe function probes (`probe.clusters`, else every cluster whose engine is in
 * `probedEngines`), each with the secret of its login. Empty when there is no enabled probe section.
 */
export function probeTargets(config: ClusterConfig, probedEngines: readonly Engine[]): ProbeTargetConfig[] {
  const probe = config.probe;
  if (probe === undefined || !probe.enabled) return [];
  const chosen = probe.clusters === undefined ? undefined : new Set(probe.clusters);
  return config.clusters
    .filter((cluster) =>
      chosen === undefined ? probedEngines.includes(cluster.engine) : chosen.has(cluster.id),
    )
    .map((cluster) => {
      const secretArn = cluster.credentialsSecretArn ?? probe.credentialsSecretArn;
      return {
        clusterId: cluster.id,
        engine: cluster.engine,
        nodes: cluster.nodes.map((node) => ({ nodeId: node.id, url: node.url })),
        intervalSeconds: resolvePolicy(cluster.policy).heartbeatIntervalSeconds,
        ...(secretArn === undefined ? {} : { credentialsSecretArn: secretArn }),
      };
    });
}

function nodeUrlIssues(
  value: string,
  engine: Engine | undefined,
  path: Path,
  deployed: boolean,
): PathIssue[] {
  const schemes = engine === undefined ? undefined : NODE_URL_SCHEMES[engine];
  const example = (engine && EXAMPLE_URL[engine]) ?? 'scheme://host:port';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Never quote the value: it may hold a password.
    return [{ severity: 'error', path, message: `must be a URL such as ${example}` }];
  }
  if (!value.includes('://')) {
    return [{ severity: 'error', path, message: `must be a URL such as ${example}` }];
  }
  const issues: PathIssue[] = [];
  const scheme = url.protocol.replace(/:$/, '');
  if (schemes && engine && !schemes.includes(scheme)) {
    issues.push({
      severity: 'error',
      path,
      message: `a ${engine} node needs a ${schemes.map((s) => `${s}://`).join(' or ')} URL, not ${scheme}://`,
    });
  }
  if (url.hostname === '')
    issues.push({ severity: 'error', path, message: `must name a host, as in ${example}` });
  if (url.password !== '') {
    issues.push(
      deployed
        ? {
            severity: 'error',
            path,
            message:
              'must not hold a password in a deployed configuration (it would be stored in the table): ' +
              'put the credentials in Secrets Manager and name the secret in credentialsSecretArn',
          }
        : {
            severity: 'warning',
            path,
            message:
              'holds a password: accepted for a local run, refused for a deployed stack ' +
              '(use credentialsSecretArn there)',
          },
    );
  }
  return issues;
}

function httpsHookUrlProblem(value: string, deployed: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an https:// URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) {
    return deployed
      ? 'must be an https:// URL (a deployed stack cannot reach a loopback address)'
      : undefined;
  }
  return 'must be an https:// URL (plain http:// only for localhost, in local mode)';
}

/** In a deployed configuration every ARN must be in the stack's region (its functions can reach no other). */
function regionIssues(raw: Record<string, unknown>, region: string): PathIssue[] {
  const issues: PathIssue[] = [];
  const check = (value: unknown, path: Path) => {
    if (typeof value !== 'string') return;
    const arnRegion = /^arn:aws[a-z-]*:[a-z]+:([a-z0-9-]+):/.exec(value)?.[1];
    if (arnRegion !== undefined && arnRegion !== region) {
      issues.push({
        severity: 'error',
        path,
        message: `is in region ${arnRegion}; the stack is in ${region}, and its functions only use ARNs of their own region`,
      });
    }
  };
  listOf(raw.clusters).forEach((cluster, c) => {
    if (!isRecord(cluster) || !isRecord(cluster.hooks)) return;
    for (const [action, spec] of Object.entries(cluster.hooks)) {
      if (isRecord(spec)) check(spec.functionArn, ['clusters', c, 'hooks', action, 'functionArn']);
    }
  });
  for (const { record, path, secret, key } of secretFields(raw)) {
    check(record[secret], [...path, secret]);
    check(record[key], [...path, key]);
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------------------
// Messages.

/** Says what a value is without quoting anything long (a value may hold a secret). */
function describe(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value.length <= 40 ? `the string "${value}"` : 'a string';
  return `${typeof value === 'number' ? 'the number' : 'the value'} ${String(value)}`;
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/** zod's default messages in the words of this file (schema-level messages take precedence). */
function defaultMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required field is missing';
      if (iss.input === null) return `is empty: must be ${EXPECTED[iss.expected] ?? iss.expected}`;
      return `must be ${EXPECTED[iss.expected] ?? iss.expected}, not ${describe(iss.input)}`;
    case 'invalid_value':
      return `must be one of ${iss.values.map(String).join(', ')}, not ${describe(iss.input)}`;
    case 'invalid_union':
      if ('discriminator' in iss && Array.isArray(iss.options)) {
        const given = isRecord(iss.input) ? iss.input[String(iss.discriminator)] : undefined;
        if (given === undefined)
          return `required field is missing (one of ${iss.options.map(String).join(', ')})`;
        return `must be one of ${iss.options.map(String).join(', ')}, not ${describe(given)}`;
      }
      return undefined;
    case 'too_small': {
      const limit = String(iss.minimum);
      if (iss.origin === 'array') return `needs at least ${limit} item${limit === '1' ? '' : 's'}`;
      if (iss.origin === 'string') return 'must not be empty';
      return iss.inclusive ? `must be at least ${limit}` : `must be greater than ${limit}`;
    }
    case 'too_big': {
      const limit = String(iss.maximum);
      return iss.inclusive ? `must be at most ${limit}` : `must be less than ${limit}`;
    }
    case 'invalid_format':
      return 'has the wrong format';
    default:
      return undefined;
  }
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const typed = key.toLowerCase();
  // A typo (a few letters off) or a shortened name (`heartbeatTimeout` for `heartbeatTimeoutSeconds`).
  const near = known
    .map((candidate) => {
      const name = candidate.toLowerCase();
      const shortened = typed.length >= 3 && (name.startsWith(typed) || typed.startsWith(name));
      return { candidate, distance: shortened ? 0 : editDistance(typed, name) };
    })
    .filter(({ distance }) => distance <= Math.max(1, Math.floor(key.length / 4)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (near) return `unknown field; did you mean ${near.candidate}?`;
  return known.length > 0 ? `unknown field (expected one of ${known.join(', ')})` : 'unknown field';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The keys the schema allows for the object at `path` (following the raw input through unions). */
function knownKeys(schema: z.ZodType, path: readonly (string | number)[], raw: unknown): string[] {
  let current: z.ZodType | undefined = schema;
  let value: unknown = raw;
  for (const segment of [...path, undefined]) {
    // Unwrap to the object (or array) the next segment indexes.
    for (;;) {
      if (current instanceof z.ZodOptional || current instanceof z.ZodDefault)
        current = current.unwrap() as z.ZodType;
      else if (current instanceof z.ZodDiscriminatedUnion) {
        const discriminator = current.def.discriminator;
        const tag = isRecord(value) ? value[discriminator] : undefined;
        current = (current.options as z.ZodType[]).find(
          (option) =>
            option instanceof z.ZodObject &&
            option.shape[discriminator] instanceof z.ZodLiteral &&
            option.shape[discriminator].values.has(tag as z.core.util.Literal),
        );
      } else break;
    }
    if (segment === undefined) break;
    if (current instanceof z.ZodObject) current = current.shape[String(segment)] as z.ZodType | undefined;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return [];
    value = Array.isArray(value) || isRecord(value) ? (value as Record<string, unknown>)[segment] : undefined;
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

function yamlProblem(
  severity: 'error' | 'warning',
  message: string,
  position: { line: number; col: number },
): ConfigProblem {
  return { severity, ...position, path: '', message: `invalid YAML: ${message}` };
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => a.problem.line - b.problem.line || a.problem.col - b.problem.col || a.index - b.index)
    .map(({ problem }) => problem);
}

// ---------------------------------------------------------------------------------------------------------
// From a path in the parsed value back to the YAML source.

/** `<<` (with `merge: true` the parser gives it as a scalar holding a symbol). */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const value = key.value;
  return value === '<<' || (typeof value === 'symbol' && value.description === '<<');
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /**
   * Line and column of the node at `path`: its key (`at: 'key'`) or its value; for a missing field, the
   * mapping that should hold it; for an empty value (`url:`), its key.
   */
  position(path: readonly (string | number)[], at: 'key' | 'value'): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let key: unknown;
    let deepest: unknown = node;
    for (const segment of path) {
      const next = this.child(node, segment);
      if (!next) {
        return this.start(deepest);
      }
      key = next.key;
      node = next.value;
      deepest = node ?? key;
    }
    if (at === 'key' && isNode(key)) return this.start(key);
    // An empty value (`url:`) and a block collection (it starts on the next line) read best at their key.
    if ((isScalar(node) && node.value === null) || ((isMap(node) || isSeq(node)) && !node.flow)) {
      if (isNode(key)) return this.start(key);
    }
    return this.start(node ?? key ?? deepest);
  }

  private child(node: unknown, segment: string | number): { key?: unknown; value: unknown } | undefined {
    const target = isAlias(node) ? node.resolve(this.doc) : node;
    if (isSeq(target) && typeof segment === 'number') {
      return segment < target.items.length ? { value: target.items[segment] } : undefined;
    }
    if (!isMap(target)) return undefined;
    const pair = target.items.find(
      (item) => isScalar(item.key) && String(item.key.value) === String(segment),
    );
    if (pair) return { key: pair.key, value: pair.value };
    // A key brought in by a `<<` merge: found in the merged mapping(s).
    for (const item of target.items) {
      if (!isMergeKey(item.key)) continue;
      const sources = isSeq(item.value) ? item.value.items : [item.value];
      for (const source of sources) {
        const found = this.child(source, segment);
        if (found) return found;
      }
    }
    return undefined;
  }

  private start(node: unknown): { line: number; col: number } {
    const offset = isNode(node) ? (node as YamlNode).range?.[0] : undefined;
    return this.lineCounter.linePos(offset ?? 0);
  }
}
