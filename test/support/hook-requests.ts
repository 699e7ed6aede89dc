/** The hook requests the built-in hooks' integration tests send: one cluster, engine, incident and epoch a file. */
import type { HookRequest } from '../../functions/core/hooks';
import type { HookAction } from '../../functions/core/runbook';
import type { ServerNode } from './servers';

/**
 * Builds the requests of one test file: `action` on `target` for the file's cluster, engine, incident and
 * epoch, naming `primary` (a server or an endpoint) when given.
 */
export function hookRequests(fixed: Pick<HookRequest, 'clusterId' | 'engine' | 'incidentId' | 'epoch'>) {
  return (
    action: HookAction,
    target: ServerNode,
    primary?: ServerNode | HookRequest['target'],
  ): HookRequest => ({
    action,
    clusterId: fixed.clusterId,
    engine: fixed.engine,
    incidentId: fixed.incidentId,
    epoch: fixed.epoch,
    target: target.endpoint,
    ...(primary === undefined ? {} : { primary: 'endpoint' in primary ? primary.endpoint : primary }),
  });
}
