/** The middy middleware that publishes an invocation's metrics. */
import type { MiddlewareObj } from '@middy/core';
import type { Metrics } from './metrics';

/** Middy middleware: publishes the invocation's metrics when the handler returns or throws. */
export function publishMetrics(metrics: Metrics): MiddlewareObj {
  const publish = async () => metrics.publish();
  return { after: publish, onError: publish };
}
