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

import { LineCounter, parseDocument } from 'yaml';
import type { Engine } from '../position';
import { crossFieldIssues } from './cluster-rules';
import { defaultMessage, describe, knownKeys, unknownKeyMessage } from './messages';
import {
  ClusterConfigError,
  type ConfigProblem,
  formatConfigProblem,
  formatPath,
  sortProblems,
  yamlProblem,
} from './problems';
import type { PathIssue } from './raw-input';
import { type ClusterConfig, ClusterConfigSchema } from './schema';
import { Locator } from './yaml-locator';

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
