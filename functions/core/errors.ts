/** A record that can never be processed, whatever the retries: it goes to quarantine with this reason. */
export class InvalidRecordError extends Error {
  override readonly name = 'InvalidRecordError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
