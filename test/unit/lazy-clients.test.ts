import { SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from '@jest/globals';
import { clientOf, lazy, snsClient } from '../../functions/adapters/clients';

describe('lazy', () => {
  it('makes the value on the first call only; concurrent first calls share it', async () => {
    let made = 0;
    const value = lazy(async () => {
      made += 1;
      return { n: made };
    });
    expect(made).toBe(0);
    const [a, b] = await Promise.all([value(), value()]);
    const c = await value();
    expect(made).toBe(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('does not keep a failure: the next call makes it again', async () => {
    let calls = 0;
    const value = lazy(async () => {
      calls += 1;
      if (calls === 1) throw new Error('first make fails');
      return 'made';
    });
    await expect(value()).rejects.toThrow('first make fails');
    await expect(value()).resolves.toBe('made');
    expect(calls).toBe(2);
  });
});

describe('clientOf', () => {
  it('takes a built client as it is, and builds a lazy one once, with its configuration', async () => {
    const built = new SNSClient({ region: 'eu-west-1' });
    expect(await clientOf(built)).toBe(built);

    const source = snsClient({ region: 'eu-west-1' });
    const first = await clientOf(source);
    expect(first).toBeInstanceOf(SNSClient);
    expect(await first.config.region()).toBe('eu-west-1');
    expect(await clientOf(source)).toBe(first);
  });
});
