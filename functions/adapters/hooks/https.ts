/**
 * The HTTPS webhook hook: POST of the HookRequest as JSON, signed with HMAC-SHA256 when the cluster gives a
 * secret. Messages name only the webhook's origin: its path and query often carry a token.
 */
import { createHmac } from 'node:crypto';
import { HookFailedError, type HookRequest, type HookResult } from '../../core/hooks';

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret text>`. */
export const SIGNATURE_HEADER = 'x-replica-sentinel-signature';
export const DEFAULT_HTTPS_TIMEOUT_MS = 10_000;
const MAX_DETAIL_CHARS = 300;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `sha256=<hex>` of the body, as sent in {@link SIGNATURE_HEADER}. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export interface HttpsHookOptions {
  readonly url: string;
  /** The secret text (already read from Secrets Manager), when the webhook is signed. */
  readonly secret: string | undefined;
  readonly timeoutMs: number;
  readonly fetch: typeof fetch;
}

/**
 * Posts the request to the webhook. 2xx is done (a JSON `detail` string in the answer is passed on);
 * anything else, a redirect included, is a {@link HookFailedError} with the status.
 *
 * Plain `http:` is accepted only for loopback hosts (tests, local mode).
 */
export async function runHttpsHook(request: HookRequest, options: HttpsHookOptions): Promise<HookResult> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new HookFailedError(`The https hook for ${request.action} has a url that is not a URL.`);
  }
  const origin = `${url.protocol}//${url.host}`;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new HookFailedError(
      `The https hook for ${request.action} at ${origin} must use https: (plain http only on loopback).`,
    );
  }
  const body = JSON.stringify(request);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'replica-sentinel',
  };
  if (options.secret !== undefined) headers[SIGNATURE_HEADER] = signBody(body, options.secret);
  const what = `${request.action} of node ${request.target.nodeId}`;
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: 'POST',
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    // No cause attached: fetch errors can quote the whole URL.
    throw new HookFailedError(
      `HTTPS hook ${origin} for ${what} could not be reached: ${fetchFailure(error)}.`,
    );
  }
  const text = await response.text().catch(() => '');
  if (response.status < 200 || response.status > 299) {
    throw new HookFailedError(`HTTPS hook ${origin} answered ${response.status} to ${what}.`);
  }
  const detail = answerDetail(text);
  return {
    status: 'done',
    detail: `HTTPS hook ${origin} did ${what} (${response.status})${detail === undefined ? '' : `: ${detail}`}.`,
  };
}

/** Why fetch failed, in a word (`ECONNREFUSED`, `ENOTFOUND`...). Duck-typed: fetch's errors may come from another realm. */
function fetchFailure(error: unknown): string {
  const { name, cause } = (error ?? {}) as { name?: unknown; cause?: unknown };
  if (name === 'TimeoutError') return 'no answer in time';
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return typeof name === 'string' ? name : 'unknown error';
}

function answerDetail(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    const detail = (parsed as { detail?: unknown } | null)?.detail;
    return typeof detail === 'string' && detail !== '' ? detail.slice(0, MAX_DETAIL_CHARS) : undefined;
  } catch {
    return undefined;
  }
}
