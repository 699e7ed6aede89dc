import { createHmac } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Incident } from '../../functions/core/incidents';
import type { ApprovalDecision } from '../../functions/core/runbook';
import { parseSlackAction, verifySlackSignature } from '../../functions/operator/approval';
import { createHandler } from '../../functions/operator/handler';

const SECRET = 'slack-signing-secret';
const NOW = 1_795_388_400_000;
const sign = (timestamp: number, body: string) =>
  `v0=${createHmac('sha256', SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
const context = { functionName: 'approval', awsRequestId: 'test' } as Context;

describe('Slack request signatures', () => {
  const body = 'payload=%7B%7D';
  const ts = Math.floor(NOW / 1000);
  it.each([
    ['a correct signature', { timestamp: String(ts), signature: sign(ts, body) }, true],
    ['a signature of another body', { timestamp: String(ts), signature: sign(ts, 'payload=x') }, false],
    [
      'a replay older than 5 minutes',
      { timestamp: String(ts - 301), signature: sign(ts - 301, body) },
      false,
    ],
    ['no signature', { timestamp: String(ts) }, false],
    ['a garbled timestamp', { timestamp: 'soon', signature: sign(ts, body) }, false],
  ])('accepts %s: %s', (_name, headers, expected) => {
    expect(verifySlackSignature(SECRET, headers, body, NOW)).toBe(expected);
  });
});

describe('parseSlackAction', () => {
  const form = (value: string, user: object = { username: 'dana' }) =>
    new URLSearchParams({ payload: JSON.stringify({ user, actions: [{ value }] }) }).toString();
  it('reads the cluster, the incident, the decision and who pressed the button', () => {
    expect(parseSlackAction(form('orders-pg|inc-1|approve'))).toEqual({
      clusterId: 'orders-pg',
      incidentId: 'inc-1',
      approved: true,
      by: 'slack:dana',
    });
    expect(parseSlackAction(form('orders-pg|inc-1|reject')).approved).toBe(false);
  });
  it('rejects a value that is not ours', () => {
    expect(() => parseSlackAction(form('orders-pg|inc-1|maybe'))).toThrow(
      "the Slack action value 'orders-pg|inc-1|maybe' is not <cluster>|<incident>|approve|reject",
    );
  });
});

describe('the operator API handler', () => {
  function setup(incident?: Partial<Incident>) {
    const decisions: [string, ApprovalDecision][] = [];
    const handler = createHandler(
      {
        recovery: {
          findIncident: async (_c, id) =>
            incident && id === incident.incidentId ? (incident as Incident) : undefined,
        },
        tokens: {
          succeed: async (token, decision) => {
            if (token === 'expired-token')
              throw Object.assign(new Error('timed out'), { name: 'TaskTimedOut' });
            decisions.push([token, decision]);
          },
        },
        slackSigningSecret: async () => SECRET,
        clock: () => NOW,
      },
      { logger: new Logger({ logLevel: 'SILENT' }) },
    );
    const call = (event: Partial<APIGatewayProxyEvent>) =>
      handler(event as APIGatewayProxyEvent, context) as Promise<APIGatewayProxyResult>;
    return { decisions, call };
  }
  const iamEvent = (decision: string, body?: string): Partial<APIGatewayProxyEvent> => ({
    resource: `/incidents/{clusterId}/{incidentId}/${decision}`,
    httpMethod: 'POST',
    pathParameters: { clusterId: 'orders-pg', incidentId: 'inc-1' },
    requestContext: {
      identity: { userArn: 'arn:aws:iam::123456789012:user/erin' },
    } as APIGatewayProxyEvent['requestContext'],
    ...(body ? { body } : {}),
  });

  it('hands an IAM caller’s approval, with who and why, to the waiting runbook', async () => {
    const { decisions, call } = setup({ incidentId: 'inc-1', approvalToken: 'token-1' });
    const response = await call(iamEvent('approve', JSON.stringify({ reason: 'checked lag' })));
    expect(response.statusCode).toBe(200);
    expect(decisions).toEqual([
      ['token-1', { approved: true, by: 'arn:aws:iam::123456789012:user/erin', reason: 'checked lag' }],
    ]);
  });

  it.each([
    [
      { incidentId: 'inc-1' },
      409,
      'incident inc-1 is not waiting for an approval (its runbook outcome: none yet)',
    ],
    [undefined, 404, 'incident inc-1 of cluster orders-pg does not exist'],
    [
      { incidentId: 'inc-1', approvalToken: 'expired-token' },
      410,
      'the approval of incident inc-1 expired or was already decided',
    ],
  ])('refuses with a reason when the incident is %j', async (incident, status, message) => {
    const { call } = setup(incident as Partial<Incident> | undefined);
    const response = await call(iamEvent('reject'));
    expect(response).toMatchObject({ statusCode: status });
    expect(JSON.parse(response.body)).toEqual({ message });
  });

  it('accepts a signed Slack button press and refuses an unsigned one', async () => {
    const { decisions, call } = setup({ incidentId: 'inc-1', approvalToken: 'token-1' });
    const body = new URLSearchParams({
      payload: JSON.stringify({ user: { username: 'dana' }, actions: [{ value: 'orders-pg|inc-1|reject' }] }),
    }).toString();
    const ts = String(Math.floor(NOW / 1000));
    const unsigned = await call({
      resource: '/slack/actions',
      body,
      headers: { 'X-Slack-Request-Timestamp': ts },
    });
    expect(unsigned.statusCode).toBe(401);
    expect(decisions).toEqual([]);
    const signed = await call({
      resource: '/slack/actions',
      body,
      headers: { 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': sign(Number(ts), body) },
    });
    expect(signed.statusCode).toBe(200);
    expect(decisions).toEqual([['token-1', { approved: false, by: 'slack:dana' }]]);
  });

  it('refuses a call without an IAM identity', async () => {
    const { call } = setup({ incidentId: 'inc-1', approvalToken: 't' });
    const response = await call({
      ...iamEvent('approve'),
      requestContext: { identity: {} } as APIGatewayProxyEvent['requestContext'],
    });
    expect(response.statusCode).toBe(403);
  });
});
