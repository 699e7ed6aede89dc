import type { ClusterConfig } from '../functions/core/config/schema';

/** The name of a secret from its complete ARN (`arn:…:secret:<name>-AbCdEf`). */
function secretName(arn: string): string {
  return arn.split(':secret:')[1]?.replace(/-[A-Za-z0-9]{6}$/, '') ?? arn;
}

/**
 * The secrets of the file a deployed stack's runbook-steps may not be able to read, one warning each: those
 * whose name does not start with the stack's `ClusterSecretNamePrefix` output (no output: no secret is
 * granted by name). A secret named in the configuration file the stack was deployed with is granted by its
 * ARN, which the stack does not publish: hence a warning, not a refusal.
 */
export function secretsOutsidePrefix(
  config: ClusterConfig,
  stack: string,
  prefix: string | undefined,
): string[] {
  const named = config.clusters.flatMap((cluster) => [
    ...(cluster.credentialsSecretArn
      ? [{ where: `clusters ${cluster.id} credentialsSecretArn`, arn: cluster.credentialsSecretArn }]
      : []),
    ...Object.entries(cluster.hooks).flatMap(([action, hook]) =>
      hook?.type === 'https' && hook.secretArn
        ? [{ where: `clusters ${cluster.id} hooks.${action}.secretArn`, arn: hook.secretArn }]
        : [],
    ),
  ]);
  const readable =
    prefix === undefined
      ? 'grants no secret by name (no clusterSecretNamePrefix)'
      : `reads secrets named ${prefix}…`;
  return named
    .filter(({ arn }) => prefix === undefined || !secretName(arn).startsWith(prefix))
    .map(
      ({ where, arn }) =>
        `warning: ${where}: ${secretName(arn)} — stack ${stack} ${readable}; its runbooks can read this secret only if the configuration file it was deployed with names it (else AccessDenied at run time)`,
    );
}
