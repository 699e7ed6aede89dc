/**
 * Each observer's view of a node (NodeState.observers): how long a view is kept, and since when a
 * replica's link has been down as the observers saw it (pure).
 */
import type { NodeState, ObserverView } from './node-state';

/** An observer view older than this is forgotten, so the observers map stays small. */
export const OBSERVER_VIEW_RETENTION_MS = 24 * 60 * 60 * 1000;

/** The views that are not older than the retention at `at`. */
export function pruneObservers(
  observers: Record<string, ObserverView>,
  at: number,
): Record<string, ObserverView> {
  const kept: Record<string, ObserverView> = {};
  for (const [id, view] of Object.entries(observers)) {
    if (at - view.observedAt <= OBSERVER_VIEW_RETENTION_MS) kept[id] = view;
  }
  return kept;
}

/**
 * Since when a replica's link has been down, as of a down view at `at` from `observerId`: the same
 * observer's earlier down view keeps its start; else another observer's down view that is no newer than
 * `at` (a probe relaying what the replica reports itself); else `at`. An up view in between restarts it.
 */
export function linkDownSince(
  prev: NodeState | undefined,
  observerId: string,
  at: number,
  sourceNodeId: string | undefined,
): number {
  // A link to another source is another link: a replica repointed to a new primary starts counting again
  // (its link to the old one being down says nothing about the new one).
  const sameSource = (view: ObserverView) =>
    sourceNodeId === undefined || view.sourceNodeId === undefined || view.sourceNodeId === sourceNodeId;
  const own = prev?.observers[observerId];
  if (own?.linkUp !== undefined) {
    if (own.linkUp || !sameSource(own)) return at;
    return own.linkDownSince ?? own.observedAt;
  }
  let since = at;
  for (const view of Object.values(prev?.observers ?? {})) {
    if (view.linkUp === false && view.observedAt <= at && sameSource(view))
      since = Math.min(since, view.linkDownSince ?? view.observedAt);
  }
  return since;
}
