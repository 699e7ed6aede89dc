/**
 * Cross-field rules, on input that may be malformed anywhere: unique cluster and node ids, node URLs per
 * engine (and passwords in them), hooks an engine can run, https hook URLs, fencing. {@link crossFieldIssues}
 * runs these and the section rules (deployed-stack-rules.ts, arn-rules.ts), in the order the problems are
 * reported.
 */

import { ENGINES, type Engine } from '../position';
import { HOOK_ACTIONS } from '../runbook';
import { regionIssues, secretKeyIssues } from './arn-rules';
import { deployedSweepIssues, networkIssues, probeIssues } from './deployed-stack-rules';
import type { ParseClusterConfigOptions } from './parse';
import { isRecord, listOf, type Path, type PathIssue } from './raw-input';

/** Hook actions no automatic runbook needs (see the warning for engines without built-in hooks). */
const OPTIONAL_HOOKS = ['fenceUnreachable', 'stopWrites', 'resumeWrites'] as const;

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

export function crossFieldIssues(raw: unknown, options: ParseClusterConfigOptions): PathIssue[] {
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
