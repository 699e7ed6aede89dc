import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Small recording endpoints on 127.0.0.1 that speak the AWS wire protocols of the two services the
 * incident path calls, so the real SDK clients and the real adapters (StepFunctionsLauncher, SnsNotifier)
 * run unchanged: Step Functions StartExecution (JSON 1.0) and SNS Publish (query protocol, XML answers).
 * And a Slack incoming-webhook stand-in that can fail, throttle or never answer.
 */

interface Endpoint {
  readonly url: string;
  close(): Promise<void>;
}

async function serve(
  handle: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<Endpoint> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Execution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  status: 'RUNNING' | 'SUCCEEDED';
}

/**
 * Step Functions' StartExecution as AWS documents it for standard workflows: a new name starts a run; the
 * same name and input while that run is still going answers with the same execution (idempotent); the
 * same name otherwise is ExecutionAlreadyExists. `finishRuns` makes every run end at once.
 */
export async function startStepFunctionsEndpoint(options: { finishRuns?: boolean } = {}) {
  const executions = new Map<string, Execution>();
  let requests = 0;
  const endpoint = await serve((req, body, res) => {
    requests++;
    const reply = (status: number, payload: object, errorType?: string) => {
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': randomUUID(),
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      res.end(JSON.stringify(payload));
    };
    if (req.headers['x-amz-target'] !== 'AWSStepFunctions.StartExecution') {
      reply(
        400,
        { __type: 'UnknownOperationException', message: 'only StartExecution' },
        'UnknownOperationException',
      );
      return;
    }
    const input = JSON.parse(body) as { stateMachineArn: string; name: string; input?: string };
    const key = `${input.stateMachineArn}/${input.name}`;
    const existing = executions.get(key);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === (input.input ?? '{}')) {
        reply(200, { executionArn: existing.executionArn, startDate: Date.now() / 1000 });
      } else {
        reply(
          400,
          {
            __type: 'ExecutionAlreadyExists',
            message: `Execution Already Exists: '${existing.executionArn}'`,
          },
          'ExecutionAlreadyExists',
        );
      }
      return;
    }
    const execution: Execution = {
      executionArn: `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`,
      stateMachineArn: input.stateMachineArn,
      name: input.name,
      input: input.input ?? '{}',
      status: options.finishRuns ? 'SUCCEEDED' : 'RUNNING',
    };
    executions.set(key, execution);
    reply(200, { executionArn: execution.executionArn, startDate: Date.now() / 1000 });
  });
  return {
    ...endpoint,
    /** Every execution started, once each. */
    executions: () => [...executions.values()],
    /** StartExecution requests received (first attempts and retries). */
    requests: () => requests,
  };
}

export interface PublishedMessage {
  readonly messageId: string;
  readonly topicArn: string;
  readonly message: string;
  readonly subject?: string;
  readonly attributes: Record<string, string>;
}

/** SNS Publish (query protocol): records each accepted message with its message attributes. */
export async function startSnsEndpoint() {
  const published: PublishedMessage[] = [];
  const endpoint = await serve((_req, body, res) => {
    const form = new URLSearchParams(body);
    if (form.get('Action') !== 'Publish') {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end('<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code></Error></ErrorResponse>');
      return;
    }
    const attributes: Record<string, string> = {};
    for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) {
      attributes[form.get(`MessageAttributes.entry.${i}.Name`) ?? ''] =
        form.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
    }
    const messageId = randomUUID();
    published.push({
      messageId,
      topicArn: form.get('TopicArn') ?? '',
      message: form.get('Message') ?? '',
      ...(form.has('Subject') ? { subject: form.get('Subject') ?? '' } : {}),
      attributes,
    });
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></PublishResponse>`,
    );
  });
  return { ...endpoint, published };
}

/** What the webhook does with one request: answer with a status, or hold the request and never answer. */
export type WebhookAnswer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

/**
 * A Slack incoming webhook on 127.0.0.1 driven by a script (request number → answer). A post counts as
 * delivered only when it was answered 200: that is what a channel would show.
 */
export async function startSlackWebhook(script: (request: number) => WebhookAnswer) {
  const delivered: { text: string; body: unknown }[] = [];
  let requests = 0;
  const endpoint = await serve((_req, body, res) => {
    const answer = script(requests++);
    if (answer === 'hang') return;
    if (answer.status === 200) {
      const parsed = JSON.parse(body) as { text?: string };
      delivered.push({ text: parsed.text ?? '', body: parsed });
    }
    res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
    res.end(answer.body ?? (answer.status === 200 ? 'ok' : 'error'));
  });
  return {
    ...endpoint,
    url: `${endpoint.url}/services/T0000/B0000/SECRETreliability`,
    delivered,
    requests: () => requests,
  };
}
