import type { HeartbeatInput } from '../../functions/core/wire';

export const T0 = Date.parse('2026-11-22T23:00:00.000Z');

export const iso = (ms: number): string => new Date(ms).toISOString();

/** A PostgreSQL LSN for a byte offset. */
export const lsn = (offset: number): string =>
  `${Math.floor(offset / 2 ** 32)
    .toString(16)
    .toUpperCase()}/${(offset % 2 ** 32).toString(16).toUpperCase()}`;

export function primaryHeartbeat(
  overrides: Partial<HeartbeatInput> & { at: number; seq: number; position: string },
): HeartbeatInput {
  const { at, ...rest } = overrides;
  return {
    v: 1,
    clusterId: 'orders-pg',
    nodeId: 'pg-1',
    engine: 'postgresql',
    role: 'primary',
    observedAt: iso(at),
    ...rest,
  };
}

export function replicaHeartbeat(
  overrides: Partial<HeartbeatInput> & { at: number; seq: number; applied: string; received?: string },
): HeartbeatInput {
  const { at, applied, received, ...rest } = overrides;
  return {
    v: 1,
    clusterId: 'orders-pg',
    nodeId: 'pg-2',
    engine: 'postgresql',
    role: 'replica',
    observedAt: iso(at),
    replication: {
      sourceNodeId: 'pg-1',
      linkUp: true,
      appliedPosition: applied,
      receivedPosition: received ?? applied,
    },
    ...rest,
  };
}
