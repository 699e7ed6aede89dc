import type { NodeEndpoint } from '../core/hooks';
import type { Engine } from '../core/position';
import type { RecoveryHooks } from '../runbook-steps/steps';
import {
  type CredentialsSource,
  createHookRunner,
  type HookRunnerDeps,
  replicationProgress,
  verifyPrimary,
} from './hooks';

/**
 * The hooks the runbook steps use: the dispatching runner (built-in, Lambda, HTTPS, SSM) plus the checks,
 * all reading database credentials from the same source (Secrets Manager in AWS, the node URL locally).
 */
export function recoveryHooks(deps: HookRunnerDeps): RecoveryHooks {
  const runner = createHookRunner(deps);
  const credentials: CredentialsSource = deps.credentials;
  // The credentials source answers per hook request; the checks are asked about one node.
  const credsFor = (engine: Engine, endpoint: NodeEndpoint) =>
    credentials({ action: 'promote', clusterId: '', engine, incidentId: '', epoch: 0, target: endpoint });
  return {
    run: (request, spec) => runner.run(request, spec),
    verifyPrimary: async (engine, endpoint) =>
      verifyPrimary(engine, endpoint, await credsFor(engine, endpoint)),
    replicationProgress: async (engine, endpoint) =>
      replicationProgress(engine, endpoint, await credsFor(engine, endpoint)),
  };
}
