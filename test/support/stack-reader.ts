/**
 * A local stack read the way a user reads it: one cluster's nodes (`GET /status`) and incidents
 * (`GET /incidents`, oldest first), and polling for a condition whose failure says what was seen.
 * The end-to-end runs (support/e2e.ts) and the chaos scenarios (chaos/support/stack.ts) read through it.
 */
import type { Incident } from '../../functions/core/incidents';
import type { NodeState } from '../../functions/core/node-state';
import { waitFor } from './servers';

async function getJson<T>(url: URL): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url.pathname}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export interface ClusterReader<I extends Incident> {
  nodes(): Promise<NodeState[]>;
  node(nodeId: string): Promise<NodeState | undefined>;
  /** Oldest first. */
  incidents(): Promise<I[]>;
}

/** Reads cluster `clusterId` from the local stack at `baseUrl`. */
export function clusterReader<I extends Incident = Incident>(
  baseUrl: string,
  clusterId: string,
): ClusterReader<I> {
  const url = (path: string) => {
    const result = new URL(path, baseUrl);
    result.searchParams.set('cluster', clusterId);
    return result;
  };
  const nodes = async () => (await getJson<{ nodes: NodeState[] }>(url('/status'))).nodes;
  return {
    nodes,
    node: async (nodeId) => (await nodes()).find((n) => n.nodeId === nodeId),
    incidents: async () =>
      (await getJson<{ incidents: I[] }>(url('/incidents'))).incidents.sort(
        (a, b) => a.openedAt - b.openedAt,
      ),
  };
}

/**
 * Polls `find` until it returns something, and returns that. When the deadline passes, the error is
 * waitFor's followed by a line break and `seen()` (the state and the last output, for the reader of a failure).
 */
export async function pollFor<T>(
  what: string,
  find: () => Promise<T | undefined>,
  timing: { readonly timeoutMs: number; readonly intervalMs: number },
  seen: () => Promise<string>,
): Promise<T> {
  let found: T | undefined;
  try {
    await waitFor(
      what,
      async () => {
        found = await find();
        return found !== undefined;
      },
      timing,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${await seen()}`);
  }
  return found as T;
}
