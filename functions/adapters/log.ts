/** The narrow logging interface adapters and services take (Powertools' Logger satisfies it). */
export interface Log {
  debug(message: string, ...details: Record<string, unknown>[]): void;
  info(message: string, ...details: Record<string, unknown>[]): void;
  warn(message: string, ...details: Record<string, unknown>[]): void;
}

/** A Log that drops everything, for callers that do not care. */
export const silentLog: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined };
