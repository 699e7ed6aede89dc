import { describe, expect, it } from '@jest/globals';
import {
  dispatch,
  matchRoute,
  OPERATOR_ROUTES,
  type OperationName,
  type Operations,
  OperatorError,
  operationPath,
} from '../../functions/core/operator-routes';

/** Operations that answer what they were called with. */
const echo = Object.fromEntries(
  Object.keys(OPERATOR_ROUTES).map((name) => [
    name,
    async (request: unknown) => ({ message: name, request }),
  ]),
) as unknown as Operations;

describe('the operator route table', () => {
  it('matches each route with its decoded parameters, and nothing else', () => {
    expect(matchRoute('POST', '/incidents/orders%2Dpg/inc-1/approve')).toEqual({
      operation: 'approve',
      params: { clusterId: 'orders-pg', incidentId: 'inc-1' },
    });
    expect(matchRoute('GET', '/incidents/orders-pg/inc-1/approve')).toBeUndefined();
    expect(matchRoute('POST', '/incidents/orders-pg/inc-1/maybe')).toBeUndefined();
    expect(matchRoute('POST', '/incidents/orders-pg/approve')).toBeUndefined();
  });

  it.each(Object.keys(OPERATOR_ROUTES) as OperationName[])(
    'builds the path of %s that matches it back',
    (operation) => {
      const params = { clusterId: 'a b/c', incidentId: 'inc-1', nodeId: 'redis 2' };
      const path = operationPath(operation, params as never);
      expect(path.startsWith('/')).toBe(false);
      const matched = matchRoute('POST', `/${path}`);
      expect(matched?.operation).toBe(operation);
      for (const [name, value] of Object.entries(matched?.params ?? {})) {
        expect(value).toBe(params[name as keyof typeof params]);
      }
    },
  );

  it('validates the body against the route schema before calling the operation', async () => {
    const caller = { id: 'local:erin', via: 'local' } as const;
    const params = { clusterId: 'orders-pg', incidentId: 'inc-1' };
    await expect(dispatch(echo, 'approve', params, '{"reason":"lag checked"}', caller)).resolves.toEqual({
      message: 'approve',
      request: { params, body: { reason: 'lag checked' }, caller },
    });
    await expect(dispatch(echo, 'approve', params, '', caller)).resolves.toMatchObject({
      request: { body: {} },
    });
    for (const [body, message] of [
      ['not json', 'the body must be a JSON object'],
      ['{"reason":"a\\nb"}', 'approve: reason: the reason must be one line'],
      ['{"reason":"ok","extra":1}', 'approve: Unrecognized key: "extra"'],
    ]) {
      await expect(dispatch(echo, 'approve', params, body, caller)).rejects.toEqual(
        new OperatorError(message as string, 400),
      );
    }
    await expect(dispatch(echo, 'approve', { clusterId: 'c' }, '{}', caller)).rejects.toEqual(
      new OperatorError('missing path parameter incidentId', 400),
    );
  });
});
