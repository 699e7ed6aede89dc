import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Incident, TimelineEntry } from '../../functions/core/incidents';
import type { ChatbotNotification } from '../../functions/core/notification';
import type { ClusterRecoveryState } from '../../functions/core/recovery';
import type { ApprovalDecision } from '../../functions/core/runbook';
import { parseSlackAction, verifySlackSignature } from '../../functions/operator/approval';
import { createHandler } from '../../functions/operator/handler';
import type { OperatorDeps } from '../../functions/operator/operations';
import { lambdaContext, silentLogger } from '../support/lambda';

const SECRET = 'slack-signing-secret';
const NOW = 1_795_388_400_000;
const sign = (timestamp: number, body: string) =>
  `v0=${createHmac('sha256', SECRET).update(`v0:${timestamp}:${body}`).digest('hex')}`;
const context = lambdaContext('approval');

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
  const form = (value: string, user: object = { id: 'U012ABCDEF', username: 'dana' }) =>
    new URLSearchParams({ payload: JSON.stringify({ user, actions: [{ value }] }) }).toString();
  it('reads the cluster, the incident, the decision and the Slack user id of who pressed (not the username)', () => {
    expect(parseSlackAction(form('orders-pg|inc-1|approve'))).toEqual({
      clusterId: 'orders-pg',
      incidentId: 'inc-1',
      approved: true,
      userId: 'U012ABCDEF',
      by: 'slack:U012ABCDEF',
    });
    expect(parseSlackAction(form('orders-pg|inc-1|reject')).approved).toBe(false);
  });
  it('rejects a press without a user id', () => {
    expect(() => parseSlackAction(form('orders-pg|inc-1|approve', { username: 'dana' }))).toThrow(
      'the Slack action names no user id',
    );
  });
  it('rejects a value that is not ours', () => {
    expect(() => parseSlackAction(form('orders-pg|inc-1|maybe'))).toThrow(
      "the Slack action value 'orders-pg|inc-1|maybe' is not <cluster>|<incident>|approve|reject",
    );
  });
});

describe('the operator API handler', () => {
  function setup(incident?: Partial<Incident>, clusterList?: string[]) {
    const decisions: [string, ApprovalDecision][] = [];
    const notes: TimelineEntry[] = [];
    const published: ChatbotNotification[] = [];
    const found = async (_c: string, id: string) =>
      incident && id === incident.incidentId ? ({ timeline: [], ...incident } as Incident) : undefined;
    const handler = createHandler(
      {
        recovery: {
          findIncident: found,
          getCluster: async () =>
            ({ ...(clusterList ? { slackAllowedUserIds: clusterList } : {}) }) as ClusterRecoveryState,
        },
        store: {
          noteOnIncident: async (load, entry) => {
            const loaded = await load();
            if (loaded) notes.push(entry(loaded));
            return loaded;
          },
        } as OperatorDeps['store'],
        nodes: {} as OperatorDeps['nodes'],
        executions: {} as OperatorDeps['executions'],
        notifier: { publish: async (n) => void published.push(n) },
        slackAllowedUserIds: ['U012ABCDEF'],
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
      { logger: silentLogger() },
    );
    const call = (event: Partial<APIGatewayProxyEvent>) =>
      handler(event as APIGatewayProxyEvent, context) as Promise<APIGatewayProxyResult>;
    return { decisions, notes, published, call };
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
      payload: JSON.stringify({
        user: { id: 'U012ABCDEF', username: 'dana' },
        actions: [{ value: 'orders-pg|inc-1|reject' }],
      }),
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
    expect(decisions).toEqual([['token-1', { approved: false, by: 'slack:U012ABCDEF' }]]);
  });

  /** A signed press of `decision` on inc-1 by Slack user `userId`. */
  const press = (userId: string, decision = 'approve'): Partial<APIGatewayProxyEvent> => {
    const body = new URLSearchParams({
      payload: JSON.stringify({
        user: { id: userId, username: 'mallory' },
        actions: [{ value: `orders-pg|inc-1|${decision}` }],
      }),
    }).toString();
    const ts = String(Math.floor(NOW / 1000));
    return {
      resource: '/slack/actions',
      body,
      headers: { 'X-Slack-Request-Timestamp': ts, 'X-Slack-Signature': sign(Number(ts), body) },
    };
  };

  it('refuses a Slack user who is not on the stack-wide allow-list, in Slack, and records the attempt', async () => {
    const { decisions, notes, published, call } = setup({
      incidentId: 'inc-1',
      kind: 'DEAD',
      approvalToken: 'token-1',
    });
    const response = await call(press('U999ZZZZZZ'));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      response_type: 'ephemeral',
      replace_original: false,
      text: 'Refused: you (U999ZZZZZZ) are not allowed to approve runbooks of orders-pg. The attempt is recorded.',
    });
    expect(decisions).toEqual([]);
    expect(notes).toEqual([
      expect.objectContaining({
        event: 'operator',
        to: 'DEAD',
        by: 'slack:U999ZZZZZZ',
        reason: expect.stringContaining(
          'Slack user U999ZZZZZZ is not on the allow-list of cluster orders-pg',
        ),
      }),
    ]);
    expect(published.map((n) => n.metadata.eventType)).toEqual(['operator-slack-refused']);
  });

  it("lets a cluster's own allow-list replace the stack-wide one", async () => {
    const own = setup({ incidentId: 'inc-1', kind: 'DEAD', approvalToken: 'token-1' }, ['W0345GHIJK']);
    expect(JSON.parse((await own.call(press('U012ABCDEF'))).body).text).toMatch(/^Refused/);
    expect(own.decisions).toEqual([]);
    expect(JSON.parse((await own.call(press('W0345GHIJK', 'reject'))).body).text).toBe(
      'rejected by <@W0345GHIJK>',
    );
    expect(own.decisions).toEqual([['token-1', { approved: false, by: 'slack:W0345GHIJK' }]]);
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
