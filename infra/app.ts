/**
 * CDK app entry (cdk.json: `npx tsx infra/app.ts`). Context: `-c stackName=Name` (default
 * ReplicaSentinel). cdk-nag AwsSolutions findings fail the synth.
 */
import { createApp } from './build-app';

createApp().app.synth();
