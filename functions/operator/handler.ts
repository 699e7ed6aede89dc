import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { dispatch, matchRoute, OperatorError, SLACK_ACTIONS_PATH } from '../core/operator-routes';
import { decide, parseSlackAction, verifySlackSignature } from './approval';
import { createOperations, type OperatorDeps } from './operations';

export interface OperatorHandlerDeps extends OperatorDeps {
  /** The Slack app's signing secret, when Slack buttons are configured. */
  readonly slackSigningSecret?: () => Promise<string>;
}

const json = (statusCode: number, body: unknown): APIGatewayProxyResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * The operator API (functions/core/operator-routes.ts): every route of the table, IAM-authorized, the
 * caller's IAM ARN recorded as who acted; and `POST /slack/actions` (Slack buttons, the request signature
 * verified). API Gateway names the matched route in `event.resource` (the path pattern) and its
 * parameters in `pathParameters`; the table maps them to the operation.
 */
export function createHandler(deps: OperatorHandlerDeps, options: { logger?: Logger } = {}) {
  const logger = options.logger ?? new Logger({ serviceName: 'operator' });
  const operations = createOperations(deps);
  return middy(async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      const raw = event.isBase64Encoded
        ? Buffer.from(event.body ?? '', 'base64').toString('utf8')
        : (event.body ?? '');
      if (event.resource === SLACK_ACTIONS_PATH) {
        if (!deps.slackSigningSecret) return json(404, { message: 'Slack actions are not configured' });
        const headers = Object.fromEntries(
          Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
        );
        const ok = verifySlackSignature(
          await deps.slackSigningSecret(),
          { timestamp: headers['x-slack-request-timestamp'], signature: headers['x-slack-signature'] },
          raw,
          deps.clock(),
        );
        if (!ok) return json(401, { message: 'invalid Slack signature' });
        const request = parseSlackAction(raw);
        const result = await decide(deps, request);
        logger.info('approval decided', { ...result, by: request.by, via: 'slack' });
        return json(200, { text: `${result.decision} by ${request.by}`, replace_original: false });
      }
      const route = matchRoute(event.httpMethod ?? 'POST', event.resource ?? '');
      if (!route) return json(404, { message: `no operation at ${event.httpMethod} ${event.resource}` });
      const caller = event.requestContext?.identity?.userArn ?? event.requestContext?.identity?.caller;
      if (!caller)
        return json(403, { message: 'no authenticated caller (the route needs IAM authorization)' });
      const result = await dispatch(
        operations,
        route.operation,
        { ...(event.pathParameters ?? {}) } as Record<string, string>,
        raw,
        { id: caller, via: 'iam' },
      );
      logger.info('operator action', { operation: route.operation, by: caller, result });
      return json(200, { ...result, by: caller });
    } catch (error) {
      if (error instanceof OperatorError) return json(error.status, { message: error.message });
      if (error instanceof Error && /Slack/.test(error.message)) return json(400, { message: error.message });
      throw error;
    }
  }).use(injectLambdaContext(logger));
}
