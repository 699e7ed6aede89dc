/**
 * Plain JSON values as they cross the local Step Functions engine (aws-local-stepfunctions): the value
 * type it runs on, the record test, and the JSON copy made at a Lambda or Step Functions boundary.
 */
import type { StateMachine } from 'aws-local-stepfunctions';

export type Json = Parameters<StateMachine['run']>[0];

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A plain JSON copy (what crosses a Lambda or Step Functions boundary). */
export function toJson(value: unknown): Json {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as Json);
}
