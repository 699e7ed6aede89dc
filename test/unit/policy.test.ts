import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_POLICY,
  POLICY_DEFAULTS,
  type PolicyOverrides,
  PolicyOverridesSchema,
  resolvePolicy,
} from '../../functions/core/policy';

/** The defaults as documented in docs/DESIGN.md §3b, plus incidentCooldownSeconds (README). */
const DOCUMENTED_DEFAULTS = {
  heartbeatIntervalSeconds: 10,
  heartbeatTimeoutSeconds: 30,
  stallAfterSeconds: 60,
  maxLagSeconds: 30,
  maxLagOnFailover: 1_048_576,
  maxLagSecondsOnFailover: 30,
  promoteOnUnmeasurableLag: false,
  quorum: 2,
  healthyStreak: 3,
  recoveryBlockSeconds: 3600,
  incidentCooldownSeconds: 900,
};

describe('resolvePolicy', () => {
  it('gives the documented defaults when a cluster overrides nothing', () => {
    // Prepare, Act
    const policy = resolvePolicy();

    // Assess
    expect(policy).toEqual(DOCUMENTED_DEFAULTS);
    expect(resolvePolicy({})).toEqual(DOCUMENTED_DEFAULTS);
    expect(DEFAULT_POLICY).toEqual(DOCUMENTED_DEFAULTS);
    expect(POLICY_DEFAULTS).toEqual(DOCUMENTED_DEFAULTS);
  });

  it('has no default for maxLagUnits, so lag is judged in seconds only', () => {
    expect(Object.keys(DEFAULT_POLICY)).not.toContain('maxLagUnits');
    expect(DEFAULT_POLICY.maxLagUnits).toBeUndefined();
  });

  it('puts the overrides on top of the defaults and keeps every other default', () => {
    const policy = resolvePolicy({ quorum: 3, maxLagSeconds: 5, maxLagUnits: 16_777_216 });

    expect(policy).toEqual({ ...DOCUMENTED_DEFAULTS, quorum: 3, maxLagSeconds: 5, maxLagUnits: 16_777_216 });
  });

  it('keeps the default for an override that is present but undefined', () => {
    const policy = resolvePolicy({ quorum: undefined, stallAfterSeconds: 90 });

    expect(policy).toEqual({ ...DOCUMENTED_DEFAULTS, stallAfterSeconds: 90 });
  });

  it('leaves the defaults untouched for the next cluster', () => {
    resolvePolicy({ quorum: 5, healthyStreak: 1 });

    expect(resolvePolicy()).toEqual(DOCUMENTED_DEFAULTS);
    expect(DEFAULT_POLICY).toEqual(DOCUMENTED_DEFAULTS);
  });
});

describe('PolicyOverridesSchema', () => {
  it('accepts an empty policy: every field is optional', () => {
    expect(PolicyOverridesSchema.parse({})).toEqual({});
  });

  it('accepts every field at once and returns them unchanged', () => {
    const overrides: PolicyOverrides = {
      heartbeatIntervalSeconds: 5,
      heartbeatTimeoutSeconds: 15,
      stallAfterSeconds: 45.5,
      maxLagSeconds: 10,
      maxLagOnFailover: 0,
      maxLagSecondsOnFailover: 0,
      promoteOnUnmeasurableLag: true,
      maxLagUnits: 1024,
      quorum: 1,
      healthyStreak: 5,
      recoveryBlockSeconds: 0,
      incidentCooldownSeconds: 60,
    };

    expect(PolicyOverridesSchema.parse(overrides)).toEqual(overrides);
  });

  it.each<[field: keyof PolicyOverrides, value: unknown, code: string, message: string]>([
    ['heartbeatTimeoutSeconds', -1, 'too_small', 'Too small: expected number to be >0'],
    ['heartbeatIntervalSeconds', 0, 'too_small', 'Too small: expected number to be >0'],
    ['stallAfterSeconds', 0, 'too_small', 'Too small: expected number to be >0'],
    [
      'maxLagSeconds',
      Number.POSITIVE_INFINITY,
      'invalid_type',
      'Invalid input: expected number, received Infinity',
    ],
    ['maxLagSeconds', Number.NaN, 'invalid_type', 'Invalid input: expected number, received NaN'],
    ['maxLagOnFailover', -1, 'too_small', 'Too small: expected number to be >=0'],
    ['maxLagSecondsOnFailover', -0.5, 'too_small', 'Too small: expected number to be >=0'],
    ['promoteOnUnmeasurableLag', 'yes', 'invalid_type', 'Invalid input: expected boolean, received string'],
    ['maxLagUnits', 0, 'too_small', 'Too small: expected number to be >0'],
    ['quorum', 0, 'too_small', 'Too small: expected number to be >0'],
    ['quorum', 1.5, 'invalid_type', 'Invalid input: expected int, received number'],
    ['healthyStreak', -1, 'too_small', 'Too small: expected number to be >0'],
    ['recoveryBlockSeconds', -1, 'too_small', 'Too small: expected number to be >=0'],
    ['heartbeatIntervalSeconds', '10', 'invalid_type', 'Invalid input: expected number, received string'],
  ])('rejects %s = %p with one issue naming the field', (field, value, code, message) => {
    const result = PolicyOverridesSchema.safeParse({ [field]: value });

    expect(result.success).toBe(false);
    expect(result.error?.issues).toHaveLength(1);
    expect(result.error?.issues[0]).toMatchObject({ path: [field], code, message });
  });

  it('rejects an unknown key, such as a misspelt field, instead of ignoring it', () => {
    const result = PolicyOverridesSchema.safeParse({ quorm: 3 });

    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['quorm'], path: [] }),
    ]);
  });
});
