import { describe, expect, it } from '@jest/globals';
import { hasPrivateAddress } from '../../functions/core/private-address';

describe('hasPrivateAddress', () => {
  it.each([
    'postgresql://sentinel@10.0.1.10:5432/orders',
    'redis://172.16.0.5:6379',
    'redis://172.31.255.1:6379',
    'mysql://192.168.1.2:3306',
    'redis://100.64.0.1:6379',
    'redis://[fd12:3456::1]:6379',
    'postgresql://db.ec2.internal:5432/app',
  ])('%s is private', (url) => {
    expect(hasPrivateAddress(url)).toBe(true);
  });

  it.each([
    'redis://172.32.0.1:6379',
    'postgresql://orders.abc123.eu-west-1.rds.amazonaws.com:5432/app',
    'redis://203.0.113.7:6379',
    'not a url',
  ])('%s is not', (url) => {
    expect(hasPrivateAddress(url)).toBe(false);
  });
});
