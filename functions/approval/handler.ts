import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { RecoveryStore } from '../adapters/recovery-store';
import { ApprovalError, decide, parseSlackAction, type TaskTokens, verifySlackSignature } from './approval';

export interface ApprovalDeps {
  readonly recovery: Pick<RecoveryStore, 'findIncident'>;
  readonly tokens: TaskTokens;
  /** The Slack app's signing secret, when Slack buttons are configured. */
  readonly slackSigningSecret?: () => Promise<string>;
  readonly clock?: () => number;
}

const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * The approval API: `POST /incidents/{clusterId}/{incidentId}/{approve|reject}` (IAM-authenticated; the
 * caller's IAM identity is recorded as who decided) and `POST /slack/actions` (Slack buttons; the request
 * signature is verified).
 */
export function createHandler(deps: ApprovalDeps, options: { logger?: Logger } = {}) {
  const logger = options.logger ?? new Logger({ serviceName: 'approval' });
  const clock = deps.clock ?? Date.now;
  return middy(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      if (event.resource === '/slack/actions' || event.path?.endsWith('/slack/actions')) {
        if (!deps.slackSigningSecret) return json(404, { message: 'Slack actions are not configured' });
        const raw = event.isBase64Encoded
          ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
          : (event.body ?? '');
        const headers = Object.fromEntries(
          Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
        );
        const ok = verifySlackSignature(
          await deps.slackSigningSecret(),
          { timestamp: headers['x-slack-request-timestamp'], signature: headers['x-slack-signature'] },
          raw,
          clock(),
        );
        if (!ok) return json(401, { message: 'invalid Slack signature' });
        const request = parseSlackAction(raw);
        const result = await decide(deps, request);
        logger.info('approval decided', { ...result, by: request.by, via: 'slack' });
        return json(200, { text: `${result.decision} by ${request.by}`, replace_original: false });
      }
      const { clusterId, incidentId, decision } = event.pathParameters ?? {};
      if (!clusterId || !incidentId || (decision !== 'approve' && decision !== 'reject')) {
        return json(400, { message: 'expected POST /incidents/{clusterId}/{incidentId}/{approve|reject}' });
      }
      const caller = event.requestContext?.identity?.userArn ?? event.requestContext?.identity?.caller;
      if (!caller)
        return json(403, { message: 'no authenticated caller (the route needs IAM authorization)' });
      let reason: string | undefined;
      if (event.body) {
        try {
          const body = JSON.parse(event.body) as { reason?: unknown };
          if (typeof body.reason === 'string') reason = body.reason.slice(0, 500);
        } catch {
          return json(400, { message: 'the body must be JSON: { "reason": "..." }' });
        }
      }
      const result = await decide(deps, {
        clusterId,
        incidentId,
        approved: decision === 'approve',
        by: caller,
        ...(reason ? { reason } : {}),
      });
      logger.info('approval decided', { ...result, by: caller });
      return json(200, { ...result, by: caller });
    } catch (error) {
      if (error instanceof ApprovalError) return json(error.status, { message: error.message });
      if (error instanceof Error && /Slack/.test(error.message)) return json(400, { message: error.message });
      throw error;
    }
  }).use(injectLambdaContext(logger));
}
