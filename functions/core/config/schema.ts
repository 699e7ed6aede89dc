/**
 * The configuration file's shape as a zod schema (strict: an unknown key is an error), the types of a
 * validated configuration, and the vocabulary its fields share (cluster modes, fencing modes, the ARN
 * patterns). The rules across fields are in cluster-rules.ts; parse.ts is the entry point.
 */

import * as z from 'zod';
import type { ClusterMode } from '../incidents';
import { PolicyOverridesSchema } from '../policy';
import { ENGINES, type Engine } from '../position';
import { DEFAULT_APPROVAL_TIMEOUT_SECONDS, type FencingMode } from '../recovery';
import { HOOK_ACTIONS } from '../runbook';
// The same id rules as the wire format: ids become part of DynamoDB keys.
import { Id } from '../wire';
import { crossFieldIssues } from './cluster-rules';

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
