import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createHookRunner,
  type InvokeLambda,
  lambdaInvoker,
  localCredentials,
  SIGNATURE_HEADER,
  type StartAutomation,
  secretCredentials,
  secretsManagerSecretValue,
  ssmAutomationStarter,
  verifyPrimary,
} from '../../functions/adapters/hooks/index';
import { HookFailedError, type HookRequest } from '../../functions/core/hooks';
import { freePort } from '../../local/dynamodb-local';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-signing-AbCdEf';
const SECRET_TEXT = 's3cr3t-signing-key';

const request: HookRequest = {
  action: 'promote',
  clusterId: 'analytics-doris',
  engine: 'doris',
  incidentId: 'incident-42',
  epoch: 9,
  target: { nodeId: 'fe-2', url: 'http://user:pw@10.0.0.12:9030' },
  primary: { nodeId: 'fe-1', url: 'http://10.0.0.11:9030' },
};

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
}

/** A webhook receiver on 127.0.0.1 answering each path with its scripted status. */
async function startReceiver(statusByPath: Record<string, number>) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      received.push({ path, headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      const status = statusByPath[path] ?? 404;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(status === 200 ? { detail: 'promoted fe-2 with ALTER SYSTEM' } : { error: 'nope' }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('hook dispatch: https, lambda, ssm and engines without a built-in hook', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver({ '/hooks/ok': 200, '/hooks/broken': 503 });
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('posts the request as JSON to an https hook, signed with the HMAC-SHA256 of the body', async () => {
    const secretReads: string[] = [];
    const runner = createHookRunner({
      credentials: localCredentials,
      secretValue: async (arn) => {
        secretReads.push(arn);
        return SECRET_TEXT;
      },
    });

    const result = await runner.run(request, {
      type: 'https',
      url: `${receiver.base}/hooks/ok?token=abc`,
      secretArn: SECRET_ARN,
    });

    const delivery = receiver.received.at(-1);
    const expected = `sha256=${createHmac('sha256', SECRET_TEXT)
      .update(delivery?.raw ?? '')
      .digest('hex')}`;
    expect(secretReads).toEqual([SECRET_ARN]);
    expect(delivery?.headers[SIGNATURE_HEADER]).toBe(expected);
    expect(delivery?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(delivery?.raw ?? '')).toEqual(request);
    expect(result).toEqual({
      status: 'done',
      detail: `HTTPS hook ${receiver.base} did promote of node fe-2 (200): promoted fe-2 with ALTER SYSTEM.`,
    });
  });

  it('sends no signature header when the hook has no secret', async () => {
    const runner = createHookRunner({ credentials: localCredentials });

    await runner.run(request, { type: 'https', url: `${receiver.base}/hooks/ok` });

    expect(receiver.received.at(-1)?.headers[SIGNATURE_HEADER]).toBeUndefined();
  });

  it('fails with HookFailedError naming the status, without the path, query string or secret', async () => {
    const runner = createHookRunner({ credentials: localCredentials, secretValue: async () => SECRET_TEXT });

    const error = await runner
      .run(request, { type: 'https', url: `${receiver.base}/hooks/broken?token=abc`, secretArn: SECRET_ARN })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(HookFailedError);
    const message = (error as Error).message;
    expect(message).toBe(`HTTPS hook ${receiver.base} answered 503 to promote of node fe-2.`);
    expect(message).not.toMatch(/token|broken|s3cr3t/);
  });

  it('fails with HookFailedError when the webhook cannot be reached, and refuses plain http off loopback', async () => {
    const runner = createHookRunner({ credentials: localCredentials, httpsTimeoutMs: 2000 });
    const closedPort = await freePort();

    await expect(
      runner.run(request, { type: 'https', url: `http://127.0.0.1:${closedPort}/hook?token=abc` }),
    ).rejects.toThrow(
      new HookFailedError(
        `HTTPS hook http://127.0.0.1:${closedPort} for promote of node fe-2 could not be reached: ECONNREFUSED.`,
      ),
    );
    await expect(runner.run(request, { type: 'https', url: 'http://hooks.example.com/x' })).rejects.toThrow(
      /must use https/,
    );
  });

  it('invokes a lambda hook with the function ARN and the request, and passes its detail on', async () => {
    const calls: [string, HookRequest][] = [];
    const invokeLambda: InvokeLambda = async (functionArn, payload) => {
      calls.push([functionArn, payload]);
      return { detail: 'fe-2 is master now' };
    };
    const runner = createHookRunner({ credentials: localCredentials, invokeLambda });
    const arn = 'arn:aws:lambda:us-east-1:123456789012:function:doris-promote';

    const result = await runner.run(request, { type: 'lambda', functionArn: arn });

    expect(calls).toEqual([[arn, request]]);
    expect(result).toEqual({ status: 'done', detail: 'fe-2 is master now' });
  });

  it('lambdaInvoker sends a synchronous invoke and turns a function error into HookFailedError', async () => {
    const inputs: unknown[] = [];
    const invoke = lambdaInvoker({
      invoke: async (input) => {
        inputs.push({ ...input, Payload: JSON.parse(new TextDecoder().decode(input.Payload)) });
        return {
          StatusCode: 200,
          FunctionError: 'Unhandled',
          Payload: new TextEncoder().encode(
            JSON.stringify({ errorType: 'Error', errorMessage: 'FE not ready' }),
          ),
        };
      },
    });

    await expect(invoke('arn:aws:lambda:us-east-1:1:function:f', request)).rejects.toThrow(
      new HookFailedError(
        'Lambda hook arn:aws:lambda:us-east-1:1:function:f failed on promote of node fe-2 (Unhandled): Error: FE not ready',
      ),
    );
    expect(inputs).toEqual([
      {
        FunctionName: 'arn:aws:lambda:us-east-1:1:function:f',
        InvocationType: 'RequestResponse',
        Payload: request,
      },
    ]);
  });

  it('starts an ssm hook with the document and its parameters filled from the request', async () => {
    const calls: [string, Record<string, string[]>][] = [];
    const startAutomation: StartAutomation = async (documentName, parameters) => {
      calls.push([documentName, parameters]);
      return 'exec-0f1e2d3c';
    };
    const runner = createHookRunner({ credentials: localCredentials, startAutomation });

    const result = await runner.run(request, {
      type: 'ssm',
      documentName: 'Doris-PromoteFrontend',
      parameters: {
        Node: ['{{target.nodeId}}'],
        Url: ['{{ target.url }}'],
        Fence: ['epoch-{{epoch}}', 'fixed'],
      },
    });

    expect(calls).toEqual([
      [
        'Doris-PromoteFrontend',
        { Node: ['fe-2'], Url: ['http://10.0.0.12:9030/'], Fence: ['epoch-9', 'fixed'] },
      ],
    ]);
    expect(result).toEqual({
      status: 'started',
      ssmExecutionId: 'exec-0f1e2d3c',
      detail:
        'Started SSM Automation Doris-PromoteFrontend (execution exec-0f1e2d3c) for promote of node fe-2.',
    });
  });

  it("sends an ssm hook's assumeRoleArn as the document's AutomationAssumeRole", async () => {
    const calls: [string, Record<string, string[]>][] = [];
    const startAutomation: StartAutomation = async (documentName, parameters) => {
      calls.push([documentName, parameters]);
      return 'exec-1a2b';
    };
    const runner = createHookRunner({ credentials: localCredentials, startAutomation });

    await runner.run(request, {
      type: 'ssm',
      documentName: 'Orders-FencePrimary',
      parameters: { Node: ['{{target.nodeId}}'] },
      assumeRoleArn: 'arn:aws:iam::123456789012:role/orders-fence-automation',
    });

    expect(calls).toEqual([
      [
        'Orders-FencePrimary',
        {
          Node: ['fe-2'],
          AutomationAssumeRole: ['arn:aws:iam::123456789012:role/orders-fence-automation'],
        },
      ],
    ]);
  });

  it('ssmAutomationStarter passes the document and parameters to StartAutomationExecution', async () => {
    const inputs: unknown[] = [];
    const start = ssmAutomationStarter({
      startAutomationExecution: async (input) => {
        inputs.push(input);
        return { AutomationExecutionId: 'exec-1' };
      },
    });

    await expect(start('Doc', { Node: ['fe-2'] })).resolves.toBe('exec-1');
    expect(inputs).toEqual([{ DocumentName: 'Doc', Parameters: { Node: ['fe-2'] } }]);
  });

  it('fails with HookFailedError naming the engine when it has no built-in hook or check', async () => {
    const runner = createHookRunner({ credentials: localCredentials });

    await expect(runner.run(request, undefined)).rejects.toThrow(
      /There is no built-in promote hook for doris .*Configure a lambda, ssm or https hook/,
    );
    await expect(runner.run(request, { type: 'builtin' })).rejects.toThrow(HookFailedError);
    await expect(verifyPrimary('doris', request.target, undefined)).rejects.toThrow(
      /no built-in primary check for doris/,
    );
  });

  it.each(['redis', 'postgresql', 'mariadb', 'doris'] as const)(
    'fails with HookFailedError for fenceUnreachable without a hook or with a builtin one (%s): there is none',
    async (engine) => {
      const runner = createHookRunner({ credentials: localCredentials });
      const fence: HookRequest = {
        ...request,
        engine,
        action: 'fenceUnreachable',
        target: { nodeId: 'old-1', url: 'redis://127.0.0.1:1' },
      };
      const message =
        /There is no built-in fenceUnreachable hook \(cluster analytics-doris, node old-1\): .*Configure hooks\.fenceUnreachable as a lambda, ssm or https hook\./;

      await expect(runner.run(fence, undefined)).rejects.toThrow(HookFailedError);
      await expect(runner.run(fence, undefined)).rejects.toThrow(message);
      await expect(runner.run(fence, { type: 'builtin' })).rejects.toThrow(message);
    },
  );

  it('runs a lambda fenceUnreachable hook like any other action', async () => {
    const calls: HookRequest[] = [];
    const runner = createHookRunner({
      credentials: localCredentials,
      invokeLambda: async (_arn, payload) => {
        calls.push(payload);
        return { detail: 'instance i-0abc stopped' };
      },
    });
    const fence: HookRequest = { ...request, action: 'fenceUnreachable' };

    const result = await runner.run(fence, {
      type: 'lambda',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:stop-instance',
    });

    expect(calls.map((call) => call.action)).toEqual(['fenceUnreachable']);
    expect(result).toEqual({ status: 'done', detail: 'instance i-0abc stopped' });
  });

  it('fails with HookFailedError when a spec needs an invoker the runner was not given', async () => {
    const runner = createHookRunner({ credentials: localCredentials });

    await expect(runner.run(request, { type: 'lambda', functionArn: 'arn:aws:lambda:x' })).rejects.toThrow(
      /has a lambda hook for promote, but this runner was created without/,
    );
    await expect(runner.run(request, { type: 'ssm', documentName: 'Doc' })).rejects.toThrow(HookFailedError);
  });

  it('reads a signing secret from Secrets Manager by ARN', async () => {
    const secrets = mockClient(SecretsManagerClient);
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET_TEXT });
    try {
      await expect(secretsManagerSecretValue(new SecretsManagerClient({}))(SECRET_ARN)).resolves.toBe(
        SECRET_TEXT,
      );
    } finally {
      secrets.restore();
    }
  });

  it('reads built-in hook credentials from a JSON secret chosen per request', async () => {
    const credentials = secretCredentials(
      async (arn) => (arn === SECRET_ARN ? '{"username":"sentinel","password":"pw"}' : 'not json'),
      (r) => (r.clusterId === 'analytics-doris' ? SECRET_ARN : undefined),
    );

    await expect(credentials(request)).resolves.toEqual({ username: 'sentinel', password: 'pw' });
    await expect(credentials({ ...request, clusterId: 'other' })).resolves.toBeUndefined();
    await expect(localCredentials(request)).resolves.toEqual({ username: 'user', password: 'pw' });
  });
});
