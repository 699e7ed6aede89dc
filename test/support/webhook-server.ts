import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A stand-in for Slack's incoming-webhook endpoint on 127.0.0.1: answers with the scripted responses in
 * order (then with the last one) and records every request it receives. With `tls` (a certificate for
 * 127.0.0.1, test/support/tls.ts) it serves HTTPS, for code that accepts https:// webhooks only.
 */
export async function startWebhookServer(
  script: ScriptedResponse[],
  options: { tls?: { key: string; cert: string } } = {},
) {
  const received: ReceivedRequest[] = [];
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      received.push({ path: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined });
      const answer = script[Math.min(received.length - 1, script.length - 1)] ?? { status: 200 };
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.body ?? (answer.status === 200 ? 'ok' : 'error'));
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** Looks like a real webhook URL: the secret part must never show in logs or errors. */
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/services/T0000/B0000/SECRETxyz123`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
