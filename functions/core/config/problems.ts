/**
 * A problem of a configuration file, located in it (line, column, field path), how it is printed, the
 * error that lists them, and their order (file order).
 */

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

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

export function yamlProblem(
  severity: 'error' | 'warning',
  message: string,
  position: { line: number; col: number },
): ConfigProblem {
  return { severity, ...position, path: '', message: `invalid YAML: ${message}` };
}

export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((problem, index) => ({ problem, index }))
    .sort((a, b) => a.problem.line - b.problem.line || a.problem.col - b.problem.col || a.index - b.index)
    .map(({ problem }) => problem);
}
