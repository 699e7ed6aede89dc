import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '../../local/signed-request';
import { cli as runCli } from '../support/cli';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

/** A stand-in for the operator API that checks the SigV4 signature by signing the same request itself. */
async function startApi(status: number, answer: object) {
  const received: { path: string; body: unknown; signatureValid: boolean }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const amzDate = String(req.headers['x-amz-date']);
      const date = new Date(
        `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
      );
      const signer = new SignatureV4({
        service: 'execute-api',
        region: 'eu-west-1',
        credentials: CREDENTIALS,
        sha256: Sha256,
      });
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      const expected = await signer.sign(
        {
          method: 'POST',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: url.pathname,
          query: {},
          headers: { host: String(req.headers.host), 'content-type': 'application/json' },
          body,
        },
        { signingDate: date },
      );
      received.push({
        path: url.pathname,
        body: JSON.parse(body),
        signatureValid: expected.headers.authorization === req.headers.authorization,
      });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/prod/`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The CLI with the test's credentials and region (and no session or profile of this machine). */
const cli = (args: string[]) =>
  runCli(args, {
    ...process.env,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_REGION: 'eu-west-1',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
  });

describe('replica-sentinel approve / reject against the IAM-authorized operator API', () => {
  let api: Awaited<ReturnType<typeof startApi>>;
  beforeAll(async () => {
    api = await startApi(200, {
      incidentId: 'inc-1',
      decision: 'approved',
      by: 'arn:aws:iam::123456789012:user/erin',
      message: 'inc-1: approved',
    });
  });
  afterAll(async () => {
    await api.close();
  });

  it('posts a SigV4-signed approval with the reason', async () => {
    const result = await cli([
      'approve',
      'inc-1',
      '--cluster',
      'orders-pg',
      '--reason',
      'lag checked',
      '--api-url',
      api.url,
    ]);
    expect(result).toEqual({ code: 0, stdout: 'inc-1: approved\n', stderr: '' });
    expect(api.received).toEqual([
      {
        path: '/prod/incidents/orders-pg/inc-1/approve',
        body: { reason: 'lag checked' },
        signatureValid: true,
      },
    ]);
  });

  it('reports a refusal from the API in one line with exit code 2', async () => {
    const refusing = await startApi(409, {
      message: 'incident inc-2 is not waiting for an approval (its runbook outcome: none yet)',
    });
    try {
      const result = await cli(['reject', 'inc-2', '--cluster', 'orders-pg', '--api-url', refusing.url]);
      expect(result).toEqual({
        code: 2,
        stdout: '',
        stderr:
          'replica-sentinel: reject refused (HTTP 409): incident inc-2 is not waiting for an approval (its runbook outcome: none yet)\n',
      });
    } finally {
      await refusing.close();
    }
  });

  it('goes to the local stack without --stack or --api-url, and says so when none answers', async () => {
    const result = await cli([
      'approve',
      'inc-1',
      '--cluster',
      'orders-pg',
      '--endpoint',
      'http://127.0.0.1:9',
    ]);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'replica-sentinel: no local stack answers at http://127.0.0.1:9 (start one with `replica-sentinel local up`, or pass --endpoint / --stack)\n',
    });
  });

  it('refuses --as against a deployed stack (IAM says who you are)', async () => {
    const result = await cli([
      'approve',
      'inc-1',
      '--cluster',
      'orders-pg',
      '--as',
      'mallory',
      '--api-url',
      api.url,
    ]);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: 'replica-sentinel: --as is for a local stack: a deployed stack records your IAM identity\n',
    });
  });
});
