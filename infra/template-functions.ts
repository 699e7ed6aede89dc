import { join } from 'node:path';

/**
 * The Lambda functions of a synthesized template as `cdk deploy` would upload them, for running their
 * bundles outside AWS (test/integration/deployed-bundles.test.ts, `npm run bench -- cold-start`): each
 * function's bundle directory in the cloud assembly and the environment its template gives it, with every
 * reference to another resource replaced by a stand-in of the right shape.
 */
export interface TemplateFunction {
  /** Logical id in the template. */
  readonly id: string;
  /** `POWERTOOLS_SERVICE_NAME` (the function's name in the code), else the logical id. */
  readonly service: string;
  /** The asset directory `asset.<hash>` of the cloud assembly (holds `index.mjs`). */
  readonly assetDir: string;
  /** The bundle's entry file, `<assetDir>/index.mjs`. */
  readonly entry: string;
  /** The template's environment variables, references replaced by stand-ins. */
  readonly env: Record<string, string>;
}

interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/**
 * A template value as a string: a reference to `tableId` is `tableName`; any other reference, attribute or
 * substitution a stand-in ARN of the right shape; joins joined.
 */
export function standIn(value: unknown, tableId: string, tableName: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') {
    if (v.Ref === tableId) return tableName;
    if (v.Ref.startsWith('AWS::'))
      return v.Ref === 'AWS::Region' ? 'us-east-1' : v.Ref === 'AWS::AccountId' ? '123456789012' : 'aws';
    return `arn:aws:states:us-east-1:123456789012:stateMachine:${v.Ref}`;
  }
  if (Array.isArray(v['Fn::GetAtt']))
    return `arn:aws:lambda:us-east-1:123456789012:function:${String(v['Fn::GetAtt'][0])}`;
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => standIn(part, tableId, tableName)).join(separator);
  }
  if (typeof v['Fn::Sub'] === 'string') return v['Fn::Sub'].replace(/\$\{[^}]+\}/g, 'stand-in');
  return 'stand-in';
}

/**
 * The bundled functions of `template` (the JSON of a stack synthesized with bundling into `outdir`): a
 * function's code is the asset `asset.<hash>` of the cloud assembly, uploaded as `<hash>.zip`. The node-state
 * table's name becomes `tableName`.
 */
export function templateFunctions(template: unknown, outdir: string, tableName: string): TemplateFunction[] {
  const resources = (template as { Resources?: Record<string, Resource> }).Resources ?? {};
  const tableId =
    Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table',
    )?.[0] ?? '';
  const assetOf = (r: Resource) =>
    String((r.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key ?? '').replace(/\.zip$/, '');
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && assetOf(r) !== '')
    .map(([id, r]) => {
      const variables = ((r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {}) as Record<string, unknown>;
      const env = Object.fromEntries(
        Object.entries(variables).map(([k, v]) => [k, standIn(v, tableId, tableName)]),
      );
      const assetDir = join(outdir, `asset.${assetOf(r)}`);
      return {
        id,
        service: env.POWERTOOLS_SERVICE_NAME ?? id,
        assetDir,
        entry: join(assetDir, 'index.mjs'),
        env,
      };
    });
}
