/**
 * The database drivers (pg, mysql2, node-redis), each loaded on its first use (issue 14): a function that
 * probes or runs hooks on PostgreSQL clusters only never loads mysql2 or node-redis, and a bundle that
 * imports the probes or hooks without using them (a cold start, a runbook step that reaches no server)
 * loads none. Every connection is opened through these (hooks/clients.ts), so a driver's error can only
 * exist once its driver was loaded here: {@link loadedDriver} lets the probes read driver errors
 * (probes/refusal.ts) without loading anything.
 */
import type mysql from 'mysql2/promise';
import type pg from 'pg';
import type * as redis from 'redis';

/** The driver modules, by the name their loader takes. */
export interface Drivers {
  readonly pg: typeof pg;
  readonly mysql: typeof mysql;
  readonly redis: typeof redis;
}

export type DriverName = keyof Drivers;

/** A CommonJS module as `import()` gives it: its `module.exports` as `default` (Node, tsx, bundlers). */
function exportsOf<T>(namespace: unknown): T {
  const module = namespace as { default?: T };
  return module.default ?? (namespace as T);
}

const IMPORTS: { readonly [K in DriverName]: () => Promise<Drivers[K]> } = {
  pg: async () => exportsOf<typeof pg>(await import('pg')),
  mysql: async () => exportsOf<typeof mysql>(await import('mysql2/promise')),
  redis: async () => exportsOf<typeof redis>(await import('redis')),
};

const loaded: { -readonly [K in DriverName]?: Drivers[K] } = {};

/** The driver `name`, imported on the first call (later calls get the same module). */
export async function loadDriver<K extends DriverName>(name: K): Promise<Drivers[K]> {
  const driver = loaded[name] ?? (await IMPORTS[name]());
  loaded[name] = driver;
  return driver;
}

/** The driver `name` if {@link loadDriver} has loaded it, else `undefined` (nothing is loaded). */
export function loadedDriver<K extends DriverName>(name: K): Drivers[K] | undefined {
  return loaded[name];
}
