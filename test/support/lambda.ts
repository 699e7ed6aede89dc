import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

export interface LambdaContextOptions {
  /** The request id the logger and metrics see; `test` unless a test reads it back. */
  readonly awsRequestId?: string;
  /** What `getRemainingTimeInMillis` answers, always the same (no clock behind it). */
  readonly remainingMs?: number;
}

/**
 * The Lambda context a handler is called with in a test: the function's name, a request id, and a fixed
 * time left (60 s unless told).
 */
export function lambdaContext(functionName = 'test', options: LambdaContextOptions = {}): Context {
  const { awsRequestId = 'test', remainingMs = 60_000 } = options;
  return { functionName, awsRequestId, getRemainingTimeInMillis: () => remainingMs } as Context;
}

/** A Powertools logger that writes nothing, for handlers whose logs the test does not read. */
export function silentLogger(serviceName?: string): Logger {
  return new Logger({ serviceName, logLevel: 'SILENT' });
}
