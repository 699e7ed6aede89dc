import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';

/** One call the stand-in received: the service, the operation and its parameters as the SDK sent them. */
export interface StandInCall {
  readonly service: 'sqs' | 'sns' | 'sfn' | 'secretsmanager' | 'kinesis';
  readonly action: string;
  readonly params: Record<string, unknown>;
}

/**
 * SQS, SNS, Step Functions, Secrets Manager and Kinesis (PutRecords) on 127.0.0.1, for running the deployed bundles in a child
 * process: the AWS SDK in the bundle is pointed here by the SDK's own per-service endpoint variables
 * ({@link endpointEnv}), so nothing in the functions changes. It records every call ({@link calls}) and
 * answers with the smallest valid response: SendMessageBatch succeeds for every entry (with the MD5 the SDK
 * checks), Publish and StartExecution return ids, GetSecretValue returns `secrets[SecretId]` (unknown: the
 * service's ResourceNotFoundException), SendTaskSuccess/SendTaskFailure return nothing, PutRecords takes every
 * record.
 */
export async function startAwsStandIn(secrets: Record<string, string> = {}) {
  const calls: StandInCall[] = [];
  let executions = 0;
  const listener = (
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
  ): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const target = String(req.headers['x-amz-target'] ?? '');
      const json = (status: number, body: unknown, type = 'application/x-amz-json-1.0') => {
        res.writeHead(status, { 'content-type': type });
        res.end(JSON.stringify(body));
      };
      if (target === '') {
        // SNS: the query protocol (form-encoded in, XML out).
        const form = Object.fromEntries(new URLSearchParams(text));
        const action = form.Action ?? '';
        calls.push({ service: 'sns', action, params: form });
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<${action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><${action}Result>` +
            `<MessageId>stand-in-${calls.length}</MessageId></${action}Result>` +
            `<ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></${action}Response>`,
        );
        return;
      }
      const [prefix, action = ''] = target.split('.');
      const params = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      if (prefix === 'AmazonSQS') {
        calls.push({ service: 'sqs', action, params });
        const entries = (params.Entries ?? []) as { Id: string; MessageBody: string }[];
        if (action === 'SendMessageBatch') {
          json(200, {
            Successful: entries.map((entry) => ({
              Id: entry.Id,
              MessageId: `stand-in-${entry.Id}`,
              MD5OfMessageBody: md5(entry.MessageBody),
            })),
            Failed: [],
          });
        } else json(200, { MessageId: 'stand-in', MD5OfMessageBody: md5(String(params.MessageBody ?? '')) });
      } else if (prefix === 'AWSStepFunctions') {
        calls.push({ service: 'sfn', action, params });
        if (action === 'StartExecution') {
          executions++;
          json(200, {
            executionArn: `${String(params.stateMachineArn).replace(':stateMachine:', ':execution:')}:${String(params.name ?? executions)}`,
            startDate: Date.now() / 1000,
          });
        } else json(200, {});
      } else if (prefix === 'Kinesis_20131202') {
        calls.push({ service: 'kinesis', action, params });
        const records = (params.Records ?? []) as unknown[];
        json(
          200,
          {
            FailedRecordCount: 0,
            Records: records.map((_, i) => ({
              SequenceNumber: `${calls.length}${String(i).padStart(6, '0')}`,
              ShardId: 'shardId-000000000000',
            })),
          },
          'application/x-amz-json-1.1',
        );
      } else if (prefix === 'secretsmanager') {
        calls.push({ service: 'secretsmanager', action, params });
        const id = String(params.SecretId ?? '');
        const value = secrets[id];
        if (value === undefined) {
          json(
            400,
            {
              __type: 'ResourceNotFoundException',
              message: "Secrets Manager can't find the specified secret.",
            },
            'application/x-amz-json-1.1',
          );
        } else {
          json(
            200,
            { ARN: id, Name: id, SecretString: value, VersionId: 'stand-in', VersionStages: ['AWSCURRENT'] },
            'application/x-amz-json-1.1',
          );
        }
      } else json(400, { __type: 'UnknownOperationException', message: `no stand-in for ${target}` });
    });
  };
  const server: Server = createServer(listener);
  // The Kinesis client speaks HTTP/2 only (cleartext here).
  const http2 = createHttp2Server(listener);
  await Promise.all([
    new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
    new Promise<void>((resolve) => http2.listen(0, '127.0.0.1', resolve)),
  ]);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const http2Url = `http://127.0.0.1:${(http2.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    /** The SDK's per-service endpoint variables, pointing here. */
    endpointEnv: {
      AWS_ENDPOINT_URL_SQS: url,
      AWS_ENDPOINT_URL_SNS: url,
      AWS_ENDPOINT_URL_SFN: url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_ENDPOINT_URL_KINESIS: http2Url,
    },
    /** A queue URL of this stand-in (an SQS client sends to the queue URL's host). */
    queueUrl: (name: string) => `${url}/123456789012/${name}`,
    close: () =>
      Promise.all([
        new Promise<void>((resolve) => server.close(() => resolve())),
        new Promise<void>((resolve) => http2.close(() => resolve())),
      ]).then(() => undefined),
  };
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}
