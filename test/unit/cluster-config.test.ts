import { describe, expect, it } from '@jest/globals';
import { CONFIG_OWNED_FIELDS, RUNTIME_FIELDS, toClusterItems } from '../../functions/adapters/cluster-items';
import { networkOf, probeSchedule, probeTargets } from '../../functions/core/config/deployed-stack';
import { checkClusterConfig, parseClusterConfig } from '../../functions/core/config/parse';
import { ClusterConfigError } from '../../functions/core/config/problems';
import type { ClusterConfig } from '../../functions/core/config/schema';
import {
  defaultProbeDeadlineSeconds,
  probeDue,
  probeIntervalProblem,
  probeRoundSeconds,
} from '../../functions/core/probe-cadence';
import { loadConfigFixture } from '../fixtures/config';

/** The problems of `text` as the thrown error lists them, one string per line. */
function problemsOf(text: string, sourceName = 'clusters.yaml', target?: 'local' | 'deployed'): string[] {
  try {
    parseClusterConfig(text, sourceName, target ? { target } : {});
  } catch (error) {
    if (error instanceof ClusterConfigError) return error.message.split('\n');
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

/** A valid two-node Redis cluster with `extra` lines appended to the cluster (indented 4). */
const redisCluster = (extra = '') =>
  [
    'clusters:',
    '  - id: cache-redis',
    '    engine: redis',
    '    nodes:',
    '      - id: r1',
    '        url: redis://127.0.0.1:7000',
    '      - id: r2',
    '        url: redis://127.0.0.1:7001',
    extra,
  ].join('\n');

describe('parseClusterConfig: valid files', () => {
  it('parses the example of docs/DESIGN.md §3b to the expected object, with defaults applied', () => {
    // Prepare
    const text = loadConfigFixture('design-example');

    // Act
    const config = parseClusterConfig(text);

    // Assess
    expect(config).toEqual({
      clusters: [
        {
          id: 'cache-redis',
          engine: 'redis',
          mode: 'auto',
          fencing: 'strict',
          nodes: [
            { id: 'r1', url: 'redis://127.0.0.1:7000' },
            { id: 'r2', url: 'redis://127.0.0.1:7001', priority: 100, noPromote: false },
          ],
          policy: {
            heartbeatIntervalSeconds: 10,
            heartbeatTimeoutSeconds: 30,
            stallAfterSeconds: 60,
            maxLagSeconds: 30,
            maxLagOnFailover: 1048576,
            quorum: 2,
            healthyStreak: 3,
            recoveryBlockSeconds: 3600,
          },
          hooks: {},
          approvalTimeoutSeconds: 900,
        },
      ],
    } satisfies ClusterConfig);
  });

  it('applies the defaults of every optional field: mode auto, strict fencing, no policy overrides, no hooks, 900 s approvals', () => {
    // Prepare, Act
    const config = parseClusterConfig(redisCluster());

    // Assess
    expect(config.clusters[0]).toEqual({
      id: 'cache-redis',
      engine: 'redis',
      mode: 'auto',
      fencing: 'strict',
      nodes: [
        { id: 'r1', url: 'redis://127.0.0.1:7000' },
        { id: 'r2', url: 'redis://127.0.0.1:7001' },
      ],
      policy: {},
      hooks: {},
      approvalTimeoutSeconds: 900,
    });
    expect(config.notifications).toBeUndefined();
  });

  it('parses every section: hooks of each kind (SSM parameters as lists of strings) and notifications', () => {
    // Prepare, Act
    const config = parseClusterConfig(loadConfigFixture('full'), 'full.yaml');

    // Assess
    const [orders, doris] = config.clusters;
    expect(orders?.hooks).toEqual({
      fence: {
        type: 'ssm',
        documentName: 'Orders-FencePrimary',
        assumeRoleArn: 'arn:aws:iam::123456789012:role/orders-fence-automation',
        parameters: { InstanceId: ['i-0123456789abcdef0'], Ports: ['5432', '6432'] },
      },
      promote: {
        type: 'lambda',
        functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:promote-orders:live',
      },
      repoint: {
        type: 'https',
        url: 'https://ops.example.com/hooks/repoint',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook-signing-Xy12Zw',
      },
      restartReplication: { type: 'builtin' },
    });
    expect(orders).toMatchObject({
      mode: 'approve',
      approvalTimeoutSeconds: 600,
      credentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-pg-db-AbCdEf',
      policy: { maxLagSeconds: 10 },
    });
    expect(orders?.nodes.map((n) => n.url)).toEqual([
      'postgresql://replicator@10.0.1.10:5432/orders',
      'postgres://replicator@10.0.1.11:5432/orders',
      'postgresql://replicator@10.0.1.12:5432/orders',
    ]);
    expect(doris).toMatchObject({ id: 'doris-fe', engine: 'doris', mode: 'dry-run', hooks: {} });
    expect(config.notifications).toEqual({
      slackWebhookSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sentinel/slack-AbCdEf',
      chatbot: { workspaceId: 'T0123456789', channelId: 'C0123456789' },
    });
  });

  it('accepts rediss:// for Redis, postgres:// for PostgreSQL and mariadb:// for MariaDB, as the built-in hooks do', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - { id: a, engine: redis, nodes: [{ id: r1, url: "rediss://cache:6380" }, { id: r2, url: "redis://cache2" }] }',
      '  - { id: b, engine: postgresql, nodes: [{ id: p1, url: "postgres://db1/app" }, { id: p2, url: "postgresql://db2/app" }] }',
      '  - { id: c, engine: mariadb, nodes: [{ id: m1, url: "mariadb://db1" }, { id: m2, url: "mysql://db2:3307" }] }',
      '  - { id: d, engine: zookeeper, mode: "off", nodes: [{ id: z1, url: "zk://zk1:2181" }, { id: z2, url: "zk://zk2:2181" }] }',
    ].join('\n');

    // Act
    const config = parseClusterConfig(text);

    // Assess
    expect(config.clusters.map((c) => [c.id, c.mode])).toEqual([
      ['a', 'auto'],
      ['b', 'auto'],
      ['c', 'auto'],
      ['d', 'off'],
    ]);
  });

  it('reads a policy shared through an anchor under an ignored x- key and a << merge key', () => {
    // Prepare
    const text = [
      'x-policy: &std',
      '  maxLagSeconds: 5',
      '  quorum: 2',
      'clusters:',
      '  - id: a',
      '    engine: redis',
      '    nodes: [{ id: r1, url: "redis://h1" }, { id: r2, url: "redis://h2" }]',
      '    policy:',
      '      <<: *std',
      '      quorum: 3',
    ].join('\n');

    // Act
    const config = parseClusterConfig(text);

    // Assess
    expect(config).toEqual({
      clusters: [expect.objectContaining({ id: 'a', policy: { maxLagSeconds: 5, quorum: 3 } })],
    });
  });

  it('follows a merged mapping back to the anchor to locate a wrong value in it', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - id: a',
      '    engine: redis',
      '    nodes: [{ id: r1, url: "redis://h1" }, { id: r2, url: "redis://h2" }]',
      '    policy: &std',
      '      maxLagSeconds: -1',
      '  - id: b',
      '    engine: redis',
      '    nodes: [{ id: r1, url: "redis://h1" }, { id: r2, url: "redis://h2" }]',
      '    policy:',
      '      <<: *std',
      '      quorum: 3',
    ].join('\n');

    // Act, Assess
    expect(problemsOf(text)).toEqual([
      'clusters.yaml:6:22: clusters[0].policy.maxLagSeconds: must be greater than 0',
      'clusters.yaml:6:22: clusters[1].policy.maxLagSeconds: must be greater than 0',
    ]);
    expect(problemsOf(text.replace('policy: &std', 'polic: &std'))[0]).toBe(
      'clusters.yaml:5:5: clusters[0].polic: unknown field; did you mean policy?',
    );
  });
});

describe('parseClusterConfig: errors name the file, line, column and field', () => {
  it('reports values of the wrong type or out of range where the value is, with what was found', () => {
    // Prepare, Act, Assess
    expect(problemsOf(loadConfigFixture('broken-types'), 'broken-types.yaml')).toEqual([
      'broken-types.yaml:4:11: clusters[0].mode: must be one of auto, approve, dry-run, off, not the string "automatic"',
      'broken-types.yaml:10:19: clusters[0].nodes[1].priority: must be a number, not the string "high"',
      'broken-types.yaml:11:20: clusters[0].nodes[1].noPromote: must be true or false, not the string "yes"',
      'broken-types.yaml:14:32: clusters[0].policy.heartbeatTimeoutSeconds: must be greater than heartbeatIntervalSeconds (10), or every node would be silent between two heartbeats',
    ]);
  });

  it('reports an unknown key at the line of the key, suggesting the field it was probably meant to be', () => {
    // Prepare, Act, Assess
    expect(problemsOf(loadConfigFixture('broken-keys'), 'broken-keys.yaml')).toEqual([
      'broken-keys.yaml:9:9: clusters[0].nodes[1].prority: unknown field; did you mean priority?',
      'broken-keys.yaml:11:7: clusters[0].policy.heartbeatTimeout: unknown field; did you mean heartbeatTimeoutSeconds?',
      'broken-keys.yaml:13:7: clusters[0].hooks.promot: unknown field; did you mean promote?',
      'broken-keys.yaml:15:1: notification: unknown field; did you mean notifications?',
    ]);
  });

  it('reports duplicate ids, URL schemes that do not match the engine, too few nodes and missing fields, all at once', () => {
    // Prepare, Act, Assess
    expect(problemsOf(loadConfigFixture('broken-nodes'), 'broken-nodes.yaml')).toEqual([
      'broken-nodes.yaml:6:14: clusters[0].nodes[0].url: a postgresql node needs a postgresql:// or postgres:// URL, not mysql://',
      'broken-nodes.yaml:7:13: clusters[0].nodes[1].id: duplicate node id "pg-1" in this cluster (also clusters[0].nodes[0].id)',
      'broken-nodes.yaml:9:9: clusters[1].id: duplicate cluster id "orders-pg" (also clusters[0].id)',
      'broken-nodes.yaml:11:5: clusters[1].nodes: a cluster needs at least 2 nodes (a primary and a replica)',
      'broken-nodes.yaml:14:5: clusters[2].id: required field is missing',
      'broken-nodes.yaml:16:9: clusters[2].nodes[0].id: required field is missing',
      'broken-nodes.yaml:18:9: clusters[2].nodes[1].url: is empty: must be a string',
    ]);
  });

  it('reports YAML syntax errors with their line and column, and nothing else', () => {
    // Prepare, Act, Assess
    // Inline rather than a fixture file: the repository's formatter (Biome) parses YAML and would fail on it.
    const text = [
      'clusters:',
      '  - id: cache-redis',
      '    engine: redis',
      '    nodes: [',
      '      - id: r1',
      '    url: redis://127.0.0.1:7000',
    ].join('\n');
    expect(problemsOf(text, 'broken-syntax.yaml')).toEqual([
      'broken-syntax.yaml:5:7: invalid YAML: Block collections are not allowed within flow collections',
      'broken-syntax.yaml:6:5: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('reports a key written twice as a YAML error at the second one', () => {
    // Prepare
    const text = redisCluster('    mode: auto\n    mode: off');

    // Act, Assess
    expect(problemsOf(text)).toEqual(['clusters.yaml:10:5: invalid YAML: Map keys must be unique']);
  });

  it('reports a timeout not above the interval at the interval when the timeout is the default', () => {
    // Prepare
    const text = redisCluster('    policy:\n      heartbeatIntervalSeconds: 45');

    // Act, Assess
    expect(problemsOf(text)).toEqual([
      'clusters.yaml:10:7: clusters[0].policy.heartbeatTimeoutSeconds: must be greater than heartbeatIntervalSeconds (45), or every node would be silent between two heartbeats',
    ]);
  });

  it('reports a missing required field at the mapping that should hold it', () => {
    // Prepare
    const text = ['clusters:', '  - id: cache-redis', '    engine: redis'].join('\n');

    // Act, Assess
    expect(problemsOf(text)).toEqual(['clusters.yaml:2:5: clusters[0].nodes: required field is missing']);
  });

  it('reports an unknown engine and a hook type that does not exist', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - id: kv',
      '    engine: cassandra',
      '    nodes: [{ id: a, url: "x://a" }, { id: b, url: "x://b" }]',
      '    hooks:',
      '      promote: { type: webhook, url: "https://ops.example.com" }',
      '      fence: { functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:f" }',
    ].join('\n');

    // Act, Assess
    expect(problemsOf(text)).toEqual([
      'clusters.yaml:3:13: clusters[0].engine: must be one of postgresql, mysql, mariadb, redis, doris, starrocks, zookeeper, etcd, generic, not the string "cassandra"',
      'clusters.yaml:6:24: clusters[0].hooks.promote.type: must be one of builtin, lambda, https, ssm, not the string "webhook"',
      'clusters.yaml:7:14: clusters[0].hooks.fence.type: required field is missing (one of builtin, lambda, https, ssm)',
    ]);
  });

  it('checks the fields of each hook type: ARNs, document names, https URLs, built-in hooks only where they exist', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - id: fe',
      '    engine: doris',
      '    nodes: [{ id: a, url: "mysql://a:9030" }, { id: b, url: "mysql://b:9030" }]',
      '    hooks:',
      '      fence: { type: builtin }',
      '      promote: { type: lambda, functionArn: promote-fe }',
      '      repoint: { type: https, url: "http://ops.example.com/repoint", secret: x }',
      '      rebuild: { type: ssm, documentName: "arn:aws:ssm:eu-west-1:123456789012:document/Rebuild" }',
      '    credentialsSecretArn: arn:aws:secretsmanager:eu-west-1:123456789012:secret:db',
    ].join('\n');

    // Act, Assess
    expect(problemsOf(text)).toEqual([
      'clusters.yaml:6:22: clusters[0].hooks.fence.type: doris has no built-in hooks (only redis, postgresql, mysql, mariadb do): use lambda, https or ssm',
      'clusters.yaml:7:45: clusters[0].hooks.promote.functionArn: must be the ARN of a Lambda function (arn:aws:lambda:<region>:<account>:function:<name>, optionally :<version or alias>)',
      'clusters.yaml:8:36: clusters[0].hooks.repoint.url: must be an https:// URL (plain http:// only for localhost, in local mode)',
      'clusters.yaml:8:70: clusters[0].hooks.repoint.secret: unknown field; did you mean secretArn?',
      'clusters.yaml:9:43: clusters[0].hooks.rebuild.documentName: must be the name of an SSM Automation document of the stack account (3 to 128 letters, digits, _ . or -; a name, not an ARN)',
      'clusters.yaml:10:27: clusters[0].credentialsSecretArn: must be the complete ARN of a Secrets Manager secret, with its 6-character suffix (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf, as the Secrets Manager console shows it)',
    ]);
  });

  it('checks an SSM hook role: an IAM role ARN, given as assumeRoleArn and not as a parameter', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - id: fe',
      '    engine: doris',
      '    nodes: [{ id: a, url: "mysql://a:9030" }, { id: b, url: "mysql://b:9030" }]',
      '    hooks:',
      '      promote: { type: ssm, documentName: Promote, assumeRoleArn: "arn:aws:iam::123456789012:user/ops" }',
      '      rebuild:',
      '        type: ssm',
      '        documentName: Rebuild',
      '        parameters: { AutomationAssumeRole: "arn:aws:iam::123456789012:role/rebuild" }',
    ].join('\n');

    // Act, Assess
    expect(problemsOf(text)).toEqual([
      'clusters.yaml:6:67: clusters[0].hooks.promote.assumeRoleArn: must be the ARN of an IAM role (arn:aws:iam::<account>:role/<name>)',
      "clusters.yaml:10:45: clusters[0].hooks.rebuild.parameters.AutomationAssumeRole: set the role as the hook's assumeRoleArn instead: the stack grants iam:PassRole on that role only, and fills the parameter from it",
    ]);
  });

  it('takes a Slack allow-list of user ids per cluster onto the cluster item, and refuses a username', () => {
    const config = parseClusterConfig(
      redisCluster('    slackAllowedUserIds: [U012ABCDEF, W0345GHIJK]'),
      'c.yaml',
    );
    expect(toClusterItems(config)[0]?.slackAllowedUserIds).toEqual(['U012ABCDEF', 'W0345GHIJK']);
    expect(toClusterItems(parseClusterConfig(redisCluster(), 'c.yaml'))[0]).not.toHaveProperty(
      'slackAllowedUserIds',
    );
    expect(problemsOf(redisCluster('    slackAllowedUserIds: [dana]'))).toEqual([
      'clusters.yaml:9:27: clusters[0].slackAllowedUserIds[0]: must be a Slack user id (profile → ⋮ → Copy member ID): U or W followed by upper-case letters or digits',
    ]);
  });

  it('says what is wrong with a file that is empty or not a mapping', () => {
    // Prepare, Act, Assess
    expect(problemsOf('')).toEqual([
      'clusters.yaml:1:1: must be a mapping with a clusters list (the file is empty)',
    ]);
    expect(problemsOf('# nothing yet\n- a\n')).toEqual([
      'clusters.yaml:2:1: must be a mapping with a clusters list (found a list)',
    ]);
    expect(problemsOf('clusters: []')).toEqual([
      'clusters.yaml:1:11: clusters: must list at least one cluster',
    ]);
  });

  it('never quotes a node URL in a message: it may hold a password', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - id: c',
      '    engine: redis',
      '    nodes: [{ id: a, url: "redis//admin:hunter2@h1" }, { id: b, url: "mysql://admin:hunter2@h2" }]',
    ].join('\n');

    // Act
    const problems = problemsOf(text);

    // Assess
    expect(problems).toEqual([
      'clusters.yaml:4:27: clusters[0].nodes[0].url: must be a URL such as redis://10.0.0.5:6379',
      'clusters.yaml:4:70: clusters[0].nodes[1].url: a redis node needs a redis:// or rediss:// URL, not mysql://',
    ]);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('gives every problem as a located record too, errors sorted by position', () => {
    // Prepare, Act
    const check = checkClusterConfig(loadConfigFixture('broken-nodes'));

    // Assess
    expect(check.config).toBeUndefined();
    expect(check.errors[0]).toEqual({
      severity: 'error',
      line: 6,
      col: 14,
      path: 'clusters[0].nodes[0].url',
      message: 'a postgresql node needs a postgresql:// or postgres:// URL, not mysql://',
    });
    const positions = check.errors.map((e) => e.line * 1000 + e.col);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});

describe('parseClusterConfig: credentials in node URLs', () => {
  const withPassword = [
    'clusters:',
    '  - id: cache-redis',
    '    engine: redis',
    '    nodes:',
    '      - id: r1',
    '        url: redis://:hunter2@127.0.0.1:7000',
    '      - id: r2',
    '        url: redis://default@127.0.0.1:7001',
  ].join('\n');

  it('accepts a password locally with a warning naming the line, and a user name without one', () => {
    // Prepare
    const warnings: string[] = [];

    // Act
    const config = parseClusterConfig(withPassword, 'clusters.yaml', { onWarning: (w) => warnings.push(w) });

    // Assess
    expect(config.clusters[0]?.nodes[0]?.url).toBe('redis://:hunter2@127.0.0.1:7000');
    expect(warnings.filter((w) => !w.includes('mode auto without'))).toEqual([
      'clusters.yaml:6:14: clusters[0].nodes[0].url: holds a password: accepted for a local run, refused for a deployed stack (use credentialsSecretArn there)',
    ]);
  });

  it('refuses a password in a deployed configuration', () => {
    // Prepare, Act, Assess
    expect(problemsOf(withPassword, 'clusters.yaml', 'deployed')).toEqual([
      'clusters.yaml:6:14: clusters[0].nodes[0].url: must not hold a password in a deployed configuration (it would be stored in the table): put the credentials in Secrets Manager and name the secret in credentialsSecretArn',
    ]);
  });

  it('refuses, in a deployed configuration, ARNs of another region than the stack and hooks on loopback', () => {
    // Prepare
    const text = redisCluster(
      [
        '    credentialsSecretArn: arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf',
        '    hooks:',
        '      promote: { type: https, url: "http://127.0.0.1:9000/promote" }',
      ].join('\n'),
    );

    // Act
    const check = checkClusterConfig(text, { target: 'deployed', region: 'eu-west-1' });

    // Assess
    expect(check.errors.map((e) => `${e.line}:${e.col}: ${e.path}: ${e.message}`)).toEqual([
      '9:27: clusters[0].credentialsSecretArn: is in region us-east-1; the stack is in eu-west-1, and its functions only use ARNs of their own region',
      '11:36: clusters[0].hooks.promote.url: must be an https:// URL (a deployed stack cannot reach a loopback address)',
    ]);
    expect(checkClusterConfig(text).errors).toEqual([]);
  });

  it('warns when an engine without built-in hooks would run runbooks without hooks', () => {
    // Prepare
    const text = [
      'clusters:',
      '  - id: fe',
      '    engine: starrocks',
      '    fencing: trust-quorum',
      '    nodes: [{ id: a, url: "mysql://a:9030" }, { id: b, url: "mysql://b:9030" }]',
      '    hooks:',
      '      promote: { type: lambda, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:promote" }',
    ].join('\n');

    // Act
    const check = checkClusterConfig(text);

    // Assess
    expect(check.config).toBeDefined();
    expect(check.warnings).toEqual([
      {
        severity: 'warning',
        line: 3,
        col: 13,
        path: 'clusters[0].engine',
        // fenceUnreachable is not listed: no engine has a built-in one, and it is optional.
        message:
          'starrocks has no built-in hooks and this cluster has none for fence, repoint, restartReplication, rebuild: a runbook that needs one fails and pages (give hooks, or mode: dry-run or off)',
      },
    ]);
  });
});

describe('toClusterItems', () => {
  it('gives per cluster the META fields the configuration owns, in the shape the runbooks read', () => {
    // Prepare
    const config = parseClusterConfig(loadConfigFixture('full'));

    // Act
    const items = toClusterItems(config);

    // Assess
    expect(items).toEqual([
      {
        clusterId: 'orders-pg',
        engine: 'postgresql',
        mode: 'approve',
        fencing: 'strict',
        policy: { maxLagSeconds: 10 },
        nodes: [
          { nodeId: 'pg-1', url: 'postgresql://replicator@10.0.1.10:5432/orders' },
          { nodeId: 'pg-2', url: 'postgres://replicator@10.0.1.11:5432/orders', priority: 10 },
          { nodeId: 'pg-3', url: 'postgresql://replicator@10.0.1.12:5432/orders', noPromote: true },
        ],
        hooks: config.clusters[0]?.hooks,
        approvalTimeoutSeconds: 600,
        credentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-pg-db-AbCdEf',
      },
      {
        clusterId: 'doris-fe',
        engine: 'doris',
        mode: 'dry-run',
        fencing: 'strict',
        policy: {},
        nodes: [
          { nodeId: 'fe1', url: 'mysql://10.0.2.10:9030' },
          { nodeId: 'fe2', url: 'mysql://10.0.2.11:9030' },
        ],
        hooks: {},
        approvalTimeoutSeconds: 900,
      },
    ]);
  });

  it('never contains a runtime field (epoch, primary, lock, cooldown, maintenance), whatever the file says', () => {
    // Prepare: a file cannot even name them (unknown keys), so try every one and check both ways
    for (const field of RUNTIME_FIELDS) {
      expect(problemsOf(redisCluster(`    ${field}: 5`))).toEqual([
        `clusters.yaml:9:5: clusters[0].${field}: unknown field (expected one of id, engine, mode, nodes, policy, hooks, fencing, approvalTimeoutSeconds, credentialsSecretArn, credentialsKmsKeyArn, slackAllowedUserIds)`,
      ]);
    }
    const items = [
      ...toClusterItems(parseClusterConfig(loadConfigFixture('full'))),
      ...toClusterItems(parseClusterConfig(loadConfigFixture('design-example'))),
    ];

    // Act, Assess
    for (const item of items) {
      for (const field of RUNTIME_FIELDS) expect(item).not.toHaveProperty(field);
      for (const key of Object.keys(item)) expect(CONFIG_OWNED_FIELDS).toContain(key);
    }
  });
});

describe('fencing and the fenceUnreachable hook', () => {
  const hook = (spec: string) => `    hooks:\n      fenceUnreachable: ${spec}`;
  const lambda =
    '{ type: lambda, functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:stop-instance" }';

  it('maps fencing into the cluster item, strict by default and trust-quorum when set', () => {
    // Prepare
    const strict = parseClusterConfig(redisCluster());
    const trusting = parseClusterConfig(redisCluster('    fencing: trust-quorum'));

    // Act
    const [strictItem] = toClusterItems(strict);
    const [trustingItem] = toClusterItems(trusting);

    // Assess
    expect(strictItem?.fencing).toBe('strict');
    expect(trustingItem?.fencing).toBe('trust-quorum');
    expect(CONFIG_OWNED_FIELDS).toContain('fencing');
  });

  it('refuses a fencing mode that does not exist, naming the two that do', () => {
    expect(problemsOf(redisCluster('    fencing: maybe'))).toEqual([
      'clusters.yaml:9:14: clusters[0].fencing: must be one of strict, trust-quorum, not the string "maybe"',
    ]);
  });

  it.each([
    ['lambda', lambda],
    ['ssm', '{ type: ssm, documentName: Stop-Old-Primary, parameters: { InstanceId: i-0abc } }'],
    ['https', '{ type: https, url: "https://ops.example.com/fence" }'],
  ])('accepts a %s fenceUnreachable hook and keeps it in the cluster item', (type, spec) => {
    // Act
    const check = checkClusterConfig(redisCluster(hook(spec)));

    // Assess
    expect(check.errors).toEqual([]);
    const [item] = toClusterItems(check.config as ClusterConfig);
    expect(item?.hooks.fenceUnreachable?.type).toBe(type);
  });

  it('refuses a builtin fenceUnreachable hook for every engine, saying what to use instead', () => {
    expect(problemsOf(redisCluster(hook('{ type: builtin }')))).toEqual([
      'clusters.yaml:10:33: clusters[0].hooks.fenceUnreachable.type: fenceUnreachable has no built-in hook: fencing a node the runbook cannot reach takes its infrastructure (stop the instance, cut its security group), not a database connection: use lambda, ssm or https',
    ]);
  });

  it('warns about a cluster in mode auto (written or by default) with no way to fence an unreachable primary', () => {
    // Prepare
    const expected =
      'mode auto without a way to fence an unreachable primary: an old primary the runbook cannot reach ' +
      '(partitioned or frozen) blocks the failover and pages; a primary that refuses connections counts as ' +
      'fenced. Add a fenceUnreachable hook (lambda, ssm or https: stop the instance, cut its security group), ' +
      'or set fencing: trust-quorum to fail over on the quorum alone and accept that a cut-off old primary ' +
      'may keep taking writes';

    // Act
    const byDefault = checkClusterConfig(redisCluster());
    const written = checkClusterConfig(redisCluster('    mode: auto'));

    // Assess
    expect(byDefault.config).toBeDefined();
    expect(byDefault.warnings).toEqual([
      { severity: 'warning', line: 2, col: 5, path: 'clusters[0]', message: expected },
    ]);
    expect(written.warnings).toEqual([
      { severity: 'warning', line: 9, col: 11, path: 'clusters[0].mode', message: expected },
    ]);
  });

  it.each([
    ['a fenceUnreachable hook', hook(lambda)],
    ['fencing: trust-quorum', '    fencing: trust-quorum'],
    ['mode approve', '    mode: approve'],
    ['mode dry-run', '    mode: dry-run'],
  ])('does not warn about fencing with %s', (_what, extra) => {
    expect(checkClusterConfig(redisCluster(extra)).warnings).toEqual([]);
  });
});

describe("probe cadence: one knob, the clusters' heartbeatIntervalSeconds", () => {
  /** redisCluster with a probe section and optional policy lines. */
  const probed = (probe: string[], policy: string[] = []) =>
    [
      redisCluster(
        policy.length === 0
          ? '    mode: dry-run'
          : ['    mode: dry-run', '    policy:', ...policy].join('\n'),
      ),
      'probe:',
      ...probe,
    ].join('\n');
  /** Two probed clusters with these policies (flow style), and a probe section. */
  const twoProbed = (first: string, second: string, probe: string[] = ['  enabled: true']) =>
    [
      'clusters:',
      '  - id: fast',
      '    engine: redis',
      `    policy: ${first}`,
      '    nodes: [{ id: r1, url: "redis://127.0.0.1:7000" }, { id: r2, url: "redis://127.0.0.1:7001" }]',
      '  - id: slow',
      '    engine: redis',
      `    policy: ${second}`,
      '    nodes: [{ id: r1, url: "redis://127.0.0.1:7100" }, { id: r2, url: "redis://127.0.0.1:7101" }]',
      'probe:',
      ...probe,
    ].join('\n');
  const scheduleOf = (text: string) => {
    const config = parseClusterConfig(text, 'clusters.yaml', { target: 'deployed' });
    if (config.probe === undefined) throw new Error('no probe section');
    const targets = probeTargets(config, ['redis']);
    return {
      targets: targets.map((t) => [t.clusterId, t.intervalSeconds]),
      ...probeSchedule(targets, config.probe),
    };
  };

  it('accepts the defaults: each cluster probed every 10 s, rounds every 10 s, 5 s per node, a 30 s timeout', () => {
    // Act
    const check = checkClusterConfig(probed(['  enabled: true']));

    // Assess
    expect(check.errors).toEqual([]);
    expect(scheduleOf(probed(['  enabled: true']))).toEqual({
      targets: [['cache-redis', 10]],
      roundSeconds: 10,
      deadlineSeconds: 5,
    });
  });

  it('probes each cluster at its own heartbeatIntervalSeconds, in rounds at their greatest common divisor', () => {
    expect(
      scheduleOf(
        twoProbed(
          '{ heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 3 }',
          '{ heartbeatIntervalSeconds: 15 }',
        ),
      ),
    ).toEqual({
      targets: [
        ['fast', 1],
        ['slow', 15],
      ],
      roundSeconds: 1,
      deadlineSeconds: 0.8,
    });
    expect(
      scheduleOf(
        twoProbed(
          '{ heartbeatIntervalSeconds: 12 }',
          '{ heartbeatIntervalSeconds: 120, heartbeatTimeoutSeconds: 600 }',
        ),
      ),
    ).toEqual({
      targets: [
        ['fast', 12],
        ['slow', 120],
      ],
      roundSeconds: 12,
      deadlineSeconds: 5,
    });
  });

  it('refuses a file that still has probe.intervalSeconds, naming the field and what to set instead', () => {
    expect(problemsOf(probed(['  intervalSeconds: 10']))).toEqual([
      "clusters.yaml:11:20: probe.intervalSeconds: was removed: the probe function probes each cluster every policy.heartbeatIntervalSeconds of that cluster (the one cadence knob, which watch follows too); delete this line and set heartbeatIntervalSeconds in the clusters' policy instead",
    ]);
  });

  it.each([7, 0.5, 45, 90, 7200])(
    'refuses a probed cluster whose heartbeatIntervalSeconds (%p) the probe rounds cannot honor, at that field',
    (interval) => {
      expect(
        problemsOf(
          probed(
            ['  enabled: true'],
            [`      heartbeatIntervalSeconds: ${interval}`, '      heartbeatTimeoutSeconds: 100000'],
          ),
        ),
      ).toEqual([
        `clusters.yaml:11:33: clusters[0].policy.heartbeatIntervalSeconds: heartbeatIntervalSeconds (${interval}) cannot be honored by the probe function, which runs rounds inside one-minute invocations: use a whole divisor of a minute (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) or a whole number of minutes (60, 120, … 3600)`,
      ]);
    },
  );

  it('accepts any heartbeatIntervalSeconds for a cluster the probe function does not probe (watch honors it)', () => {
    const text = [probed(['  clusters: [cache-redis]']), '']
      .join('\n')
      .replace(
        'clusters:\n  - id: cache-redis',
        [
          'clusters:',
          '  - id: self-reporting',
          '    engine: redis',
          '    policy: { heartbeatIntervalSeconds: 0.5, heartbeatTimeoutSeconds: 2 }',
          '    nodes: [{ id: s1, url: "redis://127.0.0.1:7200" }, { id: s2, url: "redis://127.0.0.1:7201" }]',
          '  - id: cache-redis',
        ].join('\n'),
      );
    expect(checkClusterConfig(text).errors).toEqual([]);
  });

  it('refuses a written heartbeatTimeoutSeconds not above the interval plus the deadline, at the timeout', () => {
    expect(problemsOf(probed(['  enabled: true'], ['      heartbeatTimeoutSeconds: 15']))).toEqual([
      "clusters.yaml:11:32: clusters[0].policy.heartbeatTimeoutSeconds: heartbeatTimeoutSeconds (15) must be greater than the probe interval plus the probe deadline (10 + 5 = 15 s): a healthy node's probe heartbeats can be that far apart, so a shorter timeout marks it SILENT",
    ]);
    expect(
      checkClusterConfig(probed(['  enabled: true'], ['      heartbeatTimeoutSeconds: 15.5'])).errors,
    ).toEqual([]);
  });

  it('refuses a written interval the default timeout cannot honor, at the interval', () => {
    expect(
      problemsOf(
        probed(
          ['  enabled: true'],
          ['      heartbeatIntervalSeconds: 20', '      heartbeatTimeoutSeconds: 25'],
        ),
      ),
    ).toEqual([
      "clusters.yaml:12:32: clusters[0].policy.heartbeatTimeoutSeconds: heartbeatTimeoutSeconds (25) must be greater than the probe interval plus the probe deadline (20 + 5 = 25 s): a healthy node's probe heartbeats can be that far apart, so a shorter timeout marks it SILENT",
    ]);
    expect(problemsOf(probed(['  enabled: true'], ['      heartbeatIntervalSeconds: 30']))).toEqual([
      'clusters.yaml:11:7: clusters[0].policy.heartbeatTimeoutSeconds: must be greater than heartbeatIntervalSeconds (30), or every node would be silent between two heartbeats',
      "clusters.yaml:11:33: clusters[0].policy.heartbeatIntervalSeconds: heartbeatTimeoutSeconds (30) must be greater than the probe interval plus the probe deadline (30 + 5 = 35 s): a healthy node's probe heartbeats can be that far apart, so a shorter timeout marks it SILENT",
    ]);
  });

  it('uses a written deadline in the rule, and refuses one that does not fit between two rounds', () => {
    // A shorter deadline lets a shorter timeout through: 10 + 2 = 12 < 13.
    const short = probed(['  deadlineSeconds: 2'], ['      heartbeatTimeoutSeconds: 13']);
    expect(checkClusterConfig(short).errors).toEqual([]);
    expect(scheduleOf(short)).toMatchObject({ roundSeconds: 10, deadlineSeconds: 2 });

    expect(problemsOf(probed(['  deadlineSeconds: 10']))).toEqual([
      'clusters.yaml:11:20: probe.deadlineSeconds: the probe deadline (10 s) must be less than the interval between probe rounds (10 s): every node must be answered or given up on before the next round starts',
    ]);
    // Rounds follow the fastest cluster: 2 s is too long for rounds every second.
    expect(
      problemsOf(
        twoProbed('{ heartbeatIntervalSeconds: 1, heartbeatTimeoutSeconds: 5 }', '{}', [
          '  deadlineSeconds: 2',
        ]),
      ),
    ).toEqual([
      'clusters.yaml:11:20: probe.deadlineSeconds: the probe deadline (2 s) must be less than the interval between probe rounds (1 s): every node must be answered or given up on before the next round starts',
    ]);
  });

  it('derives the deadline as min(5 s, 80 % of the time between rounds)', () => {
    expect([0.5, 1, 5, 6, 10, 60].map(defaultProbeDeadlineSeconds)).toEqual([0.4, 0.8, 4, 4.8, 5, 5]);
  });
});

describe('the deployed sweep cadence', () => {
  const fast = redisCluster(
    ['    policy:', '      heartbeatIntervalSeconds: 0.5', '      heartbeatTimeoutSeconds: 1.5'].join('\n'),
  );

  it('refuses for a deployed stack a heartbeatTimeoutSeconds under twice its 1 s sweep floor, at that field', () => {
    expect(problemsOf(fast, 'clusters.yaml', 'deployed')).toEqual([
      'clusters.yaml:11:32: clusters[0].policy.heartbeatTimeoutSeconds: heartbeatTimeoutSeconds (1.5) needs a silence sweep at least every 0.75 s, and the sweep runs every 1 s at the fastest a deployed stack sweeps: use at least 2 s',
    ]);
    expect(checkClusterConfig(fast.replace('1.5', '2'), { target: 'deployed' }).errors).toEqual([]);
  });

  it('accepts it locally, where the sweep can run faster (local up --sweep-interval)', () => {
    expect(checkClusterConfig(fast).errors).toEqual([]);
  });
});

describe('probe rounds (core/probe-cadence.ts)', () => {
  it('allows the divisors of a minute and whole minutes up to an hour, nothing else', () => {
    const allowed = Array.from({ length: 3601 }, (_, i) => i).filter(
      (s) => probeIntervalProblem(s) === undefined,
    );
    expect(allowed.filter((s) => s < 60)).toEqual([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30]);
    expect(allowed.filter((s) => s >= 60)).toEqual(Array.from({ length: 60 }, (_, i) => (i + 1) * 60));
    expect(probeIntervalProblem(2.5)).toContain('heartbeatIntervalSeconds (2.5) cannot be honored');
  });

  it('runs rounds at the greatest common divisor of the intervals and 60', () => {
    expect([[10], [1, 15], [12, 20], [120, 180], [15, 600], []].map(probeRoundSeconds)).toEqual([
      10, 1, 4, 60, 15, 60,
    ]);
  });

  it('makes each cluster due every its interval, whichever round a minute starts at', () => {
    // Rounds every 5 s, numbered from the epoch; over two minutes from any start, a 15 s cluster is due
    // every third round and a 120 s one once.
    for (const start of [0, 7, 1_000_003]) {
      const slots = Array.from({ length: 24 }, (_, i) => start + i);
      const every15 = slots.filter((slot) => probeDue(slot, 5, 15));
      expect(every15.slice(1).map((slot, i) => slot - (every15[i] as number))).toEqual(
        Array(every15.length - 1).fill(3),
      );
      expect(slots.filter((slot) => probeDue(slot, 5, 120))).toHaveLength(1);
      expect(slots.filter((slot) => probeDue(slot, 5, 5))).toEqual(slots);
    }
  });
});

describe('the network section', () => {
  const network = [
    '  vpcId: vpc-0123456789abcdef0',
    '  subnetIds: [subnet-0123456789abcdef0]',
    '  securityGroupIds: [sg-0123456789abcdef0]',
  ];

  it('takes the old probe.network as the network section, with a warning', () => {
    const check = checkClusterConfig(
      [
        redisCluster('    fencing: trust-quorum'),
        'probe:',
        '  network:',
        ...network.map((l) => `  ${l}`),
      ].join('\n'),
    );
    expect(check.errors).toEqual([]);
    expect(check.warnings.map((w) => w.path)).toContain('probe.network');
    expect(networkOf(check.config as ClusterConfig)?.vpcId).toBe('vpc-0123456789abcdef0');
  });

  it('refuses a network given twice, and endpoints without route tables', () => {
    expect(
      problemsOf(
        [
          redisCluster('    fencing: trust-quorum'),
          'network:',
          ...network,
          '  vpcEndpoints: true',
          'probe:',
          '  network:',
          ...network.map((l) => `  ${l}`),
        ].join('\n'),
      ),
    ).toEqual([
      'clusters.yaml:14:17: network.vpcEndpoints: needs routeTableIds (the route tables of the subnets) for the DynamoDB gateway endpoint',
      'clusters.yaml:16:3: probe.network: give the network once, in the top-level network section (probe and runbook-steps use it)',
    ]);
  });
});
