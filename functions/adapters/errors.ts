/**
 * A failure that may pass on retry (throttling, timeouts, a busy item, an unavailable queue): the records
 * concerned are reported as batch item failures so Lambda retries them.
 */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
