import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ReplicaSentinelStack } from './stack';

/** Stack name when the `stackName` context value is not given (`cdk deploy -c stackName=...`). */
export const DEFAULT_STACK_NAME = 'ReplicaSentinel';

/** Options of {@link createApp}. */
export interface CreateAppOptions extends AppProps {
  /**
   * Register cdk-nag's AwsSolutions checks as a validation plugin (findings fail the synth).
   * Tests that only assert on templates turn it off; the cdk-nag test and `cdk synth` keep it on.
   *
   * @default true
   */
  readonly nag?: boolean;
}

/**
 * Builds the CDK app: one {@link ReplicaSentinelStack} named by the `stackName` context value, in the
 * region of the `region` context value (else CDK_DEFAULT_REGION, else AWS_REGION), checked by
 * cdk-nag 3 (AwsSolutions, verbose) through CDK's validation plugins. infra/app.ts synthesizes it; tests
 * build it with their own `outdir` and context.
 */
export function createApp(options: CreateAppOptions = {}): { app: App; stack: ReplicaSentinelStack } {
  const { nag = true, ...appProps } = options;
  const app = new App(appProps);
  const stackName = stackNameFrom(app.node.tryGetContext('stackName'));
  const stack = new ReplicaSentinelStack(app, stackName, {
    stackName,
    // TableV2 with a customer-managed key needs a concrete region; the account may stay agnostic.
    env: { region: regionFrom(app.node.tryGetContext('region')) },
    description: 'replica-sentinel: replication health monitoring and automated recovery',
  });
  if (nag) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  }
  return { app, stack };
}

function regionFrom(context: unknown): string {
  // The CDK CLI sets CDK_DEFAULT_REGION from the AWS profile (us-east-1 when it finds none).
  const region = context ?? process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION;
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
    throw new Error(
      `the stack needs an AWS region: pass -c region=<region> or set AWS_REGION (got ${JSON.stringify(region)})`,
    );
  }
  return region;
}

function stackNameFrom(value: unknown): string {
  if (value === undefined) return DEFAULT_STACK_NAME;
  // CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(value)) {
    throw new Error(
      `context value stackName must be a CloudFormation stack name (a letter, then letters, digits or hyphens, ` +
        `at most 128 characters); got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
