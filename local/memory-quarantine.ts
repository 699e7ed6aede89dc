import type { Quarantine, QuarantinedRecord, QuarantineFailure } from '../functions/adapters/quarantine';

/** The quarantine of local mode: records kept in memory (and printed by the CLI), in arrival order. */
export class MemoryQuarantine implements Quarantine {
  readonly records: QuarantinedRecord[] = [];

  async send(records: readonly QuarantinedRecord[]): Promise<QuarantineFailure | undefined> {
    this.records.push(...records);
    return undefined;
  }
}
