import { createHash, createHmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** SHA-256 (or HMAC-SHA256 with a key) in the shape SignatureV4 expects, on Node's crypto. */
type Source = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: Source): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

export class Sha256 {
  private readonly hash;
  constructor(secret?: Source) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: Source): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** The region of an API Gateway URL (`https://id.execute-api.REGION.amazonaws.com/stage/`), else the environment's. */
export function regionOf(url: URL, env: NodeJS.ProcessEnv = process.env): string {
  const match = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname);
  const region = match?.[1] ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new Error(`cannot tell the region of ${url.origin}: set AWS_REGION`);
  return region;
}

/**
 * POSTs JSON to an IAM-authorized API Gateway route, signed with SigV4 using the caller's AWS credentials
 * (the SDK's default chain: environment, profile, SSO, instance role).
 */
export async function signedPost(
  url: URL,
  body: unknown,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ status: number; body: unknown }> {
  const text = JSON.stringify(body);
  const signer = new SignatureV4({
    service: 'execute-api',
    region: regionOf(url, env),
    credentials: defaultProvider(),
    sha256: Sha256,
  });
  const query = Object.fromEntries(url.searchParams.entries());
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { host: url.host, 'content-type': 'application/json' },
    body: text,
  });
  const response = await fetch(url, {
    method: 'POST',
    headers: signed.headers as Record<string, string>,
    body: text,
  });
  const raw = await response.text();
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}
