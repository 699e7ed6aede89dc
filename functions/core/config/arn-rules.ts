/**
 * Rules on the fields that hold ARNs: a KMS key field needs the secret it decrypts, and in a deployed
 * configuration every ARN is in the stack's region.
 */

import { isRecord, listOf, type Path, type PathIssue } from './raw-input';

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

/** A KMS key field needs the secret it decrypts. */
export function secretKeyIssues(raw: Record<string, unknown>): PathIssue[] {
  return secretFields(raw)
    .filter(({ record, secret, key }) => record[key] !== undefined && record[secret] === undefined)
    .map(({ path, secret, key }) => ({
      severity: 'error' as const,
      path: [...path, key],
      message: `is the KMS key of ${secret}, which is not given`,
    }));
}

/** In a deployed configuration every ARN must be in the stack's region (its functions can reach no other). */
export function regionIssues(raw: Record<string, unknown>, region: string): PathIssue[] {
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
