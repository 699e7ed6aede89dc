import { join } from 'node:path';
import { type StandIns, standIn, type TemplateResource, templateResources } from './template-references';

/**
 * The Lambda functions of a synthesized template as `cdk deploy` would upload them, for running their
 * bundles outside AWS (test/integration/deployed-bundles.test.ts, `npm run bench -- cold-start`): each
 * function's bundle directory in the cloud assembly and the environment its template gives it, with every
 * reference to another resource replaced by a stand-in of the right shape (infra/template-references.ts).
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
  /**
   * The template's environment variables, references replaced by stand-ins, and a path under `/opt` (in the
   * function's layer) by the same path in the layer's asset directory.
   */
  readonly env: Record<string, string>;
}

/**
 * The bundled functions of `template` (the JSON of a stack synthesized with bundling into `outdir`): a
 * function's code is the asset `asset.<hash>` of the cloud assembly, uploaded as `<hash>.zip`. The node-state
 * table's name becomes `tableName`; `standIns` replace the references they name (e.g. queues, topics).
 */
export function templateFunctions(
  template: unknown,
  outdir: string,
  tableName: string,
  standIns: StandIns = {},
): TemplateFunction[] {
  const resources = templateResources(template);
  const references: StandIns = {
    ...Object.fromEntries(
      Object.entries(resources)
        .filter(([, r]) => r.Type === 'AWS::DynamoDB::GlobalTable' || r.Type === 'AWS::DynamoDB::Table')
        .map(([id]) => [id, tableName]),
    ),
    ...standIns,
  };
  const assetOf = (r: TemplateResource) =>
    String((r.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key ?? '').replace(/\.zip$/, '');
  return Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && assetOf(r) !== '')
    .map(([id, r]) => {
      const variables = ((r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {}) as Record<string, unknown>;
      // A layer is extracted under /opt: paths there are read from the layer's staged asset directory.
      const layer = (r.Properties?.Layers as { Ref?: string }[] | undefined)?.[0]?.Ref;
      const layerContent = layer
        ? (resources[layer]?.Properties?.Content as { S3Key?: string } | undefined)
        : undefined;
      const layerDirectory = layerContent?.S3Key
        ? join(outdir, `asset.${layerContent.S3Key.replace(/\.zip$/, '')}`)
        : undefined;
      const env = Object.fromEntries(
        Object.entries(variables).map(([k, v]) => {
          const value = standIn(v, references);
          return [
            k,
            layerDirectory && value.startsWith('/opt/') ? join(layerDirectory, value.slice(5)) : value,
          ];
        }),
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
