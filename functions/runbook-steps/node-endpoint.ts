/** A node's endpoint from the cluster's configuration, and the error when none is configured for it. */
import type { NodeEndpoint } from '../core/hooks';
import type { ClusterRecoveryState } from '../core/recovery';

export class UnknownNodeEndpointError extends Error {
  override readonly name = 'UnknownNodeEndpointError';
}

export function endpoint(cluster: ClusterRecoveryState, nodeId: string): NodeEndpoint {
  const node = cluster.nodes.find((n) => n.nodeId === nodeId);
  if (!node) {
    throw new UnknownNodeEndpointError(
      `no endpoint configured for ${nodeId} (cluster nodes: ${cluster.nodes.map((n) => n.nodeId).join(', ') || 'none'})`,
    );
  }
  return { nodeId: node.nodeId, url: node.url };
}
