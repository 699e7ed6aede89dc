import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HookRequest } from '../../../functions/core/hooks';
import { LOOPBACK } from '../../../local/server-processes';
import { redisCommand } from '../../support/servers';
import { type ChaosTopology, serverNode } from './topology';

export interface RepointHook {
  /** The hook's URL (http on loopback, which the https hook type accepts locally). */
  readonly url: string;
  /** Every request received, in order, with the answer given. */
  readonly calls: { request: HookRequest; status: number }[];
  close(): Promise<void>;
}

/**
 * A `repoint` webhook for Redis that fails the first `failFirst` requests (HTTP 500: the hook did not do
 * its job) and then does what the built-in hook does: `REPLICAOF <primary's network address>` on the
 * target. A failover whose Repoint step fails after Promote, deterministically.
 */
export async function startRepointHook(topology: ChaosTopology, failFirst: number): Promise<RepointHook> {
  const calls: { request: HookRequest; status: number }[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as HookRequest;
      const answer = (status: number, detail: string) => {
        calls.push({ request, status });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ detail }));
      };
      if (calls.filter((c) => c.status >= 500).length < failFirst)
        return answer(500, 'injected failure: the repoint did not happen');
      try {
        const target = topology.node(request.target.nodeId);
        const primary = topology.node(request.primary?.nodeId ?? '');
        if (primary.proxy === undefined) throw new Error('no network address for the primary');
        await redisCommand(serverNode(target), ['REPLICAOF', LOOPBACK, String(primary.proxy.port)]);
        answer(200, `REPLICAOF ${primary.nodeId} on ${target.nodeId}`);
      } catch (error) {
        answer(502, (error as Error).message);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}/repoint`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
