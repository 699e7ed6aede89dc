/** Slack incoming webhooks: POST with retries, never logging or throwing the URL (it is a credential). */

export class SlackDeliveryError extends Error {
  override readonly name = 'SlackDeliveryError';
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface SlackPostOptions {
  /** Attempts in all, the first included. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff for 5xx and network errors; doubles each time, with jitter. @default 500 */
  readonly baseDelayMs?: number;
  /** No single wait is longer than this (a longer Retry-After fails the delivery). @default 30000 */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly fetch?: typeof fetch;
  /**
   * Milliseconds left before the caller must stop (the Lambda timeout). An attempt is cut short, and no
   * wait starts, past that budget (less a 2 s margin): the delivery fails with its reason instead of
   * being killed by a timeout mid-retry. @default unlimited
   */
  readonly remainingMs?: () => number;
}

/** What a single attempt may take at most. */
const ATTEMPT_TIMEOUT_MS = 10_000;
const MARGIN_MS = 2_000;

export interface SlackPostResult {
  readonly attempts: number;
  readonly waitedMs: number;
}

/**
 * A Retry-After header (RFC 9110: delay-seconds, a non-negative integer, or an HTTP-date in IMF-fixdate
 * form) as milliseconds; undefined for anything else, so the caller backs off instead of retrying at once.
 */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  if (/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value)) {
    const date = Date.parse(value);
    return Number.isNaN(date) ? undefined : Math.max(0, date - now);
  }
  return undefined;
}

/**
 * Posts one message. 2xx: done. 429: waits Retry-After (or the backoff) and retries. 5xx and network
 * errors: exponential backoff with jitter. Any other 4xx is permanent (a revoked or wrong webhook):
 * throws at once. After maxAttempts: throws. Errors name the status, never the URL.
 */
export async function postToSlack(
  url: string,
  body: unknown,
  options: SlackPostOptions = {},
): Promise<SlackPostResult> {
  const maxAttempts = options.maxAttempts ?? 5;
  const base = options.baseDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const doFetch = options.fetch ?? fetch;
  const remaining = () =>
    options.remainingMs ? options.remainingMs() - MARGIN_MS : Number.POSITIVE_INFINITY;
  let waitedMs = 0;
  let last = '';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let wait: number;
    const budget = Math.min(ATTEMPT_TIMEOUT_MS, remaining());
    if (budget <= 0) {
      throw new SlackDeliveryError(
        `out of time after ${attempt - 1} attempts: ${last || 'none made'}`,
        false,
      );
    }
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(budget),
      });
      const text = await response.text();
      if (response.ok) return { attempts: attempt, waitedMs };
      last = `HTTP ${response.status} ${text.slice(0, 100)}`.trim();
      if (response.status !== 429 && response.status < 500) {
        throw new SlackDeliveryError(`Slack webhook refused the message permanently: ${last}`, true);
      }
      const backoff = base * 2 ** (attempt - 1) * (0.5 + random() / 2);
      wait =
        response.status === 429
          ? (retryAfterMs(response.headers.get('retry-after'), Date.now()) ?? backoff)
          : backoff;
    } catch (error) {
      if (error instanceof SlackDeliveryError) throw error;
      last = `network error: ${(error as Error).name}`;
      wait = base * 2 ** (attempt - 1) * (0.5 + random() / 2);
    }
    if (attempt === maxAttempts) break;
    if (wait + 1000 > remaining()) {
      throw new SlackDeliveryError(
        `out of time after ${attempt} attempts (the next would start in ${Math.round(wait / 1000)}s): ${last}`,
        false,
      );
    }
    if (wait > maxDelay) {
      throw new SlackDeliveryError(
        `Slack asked to wait ${Math.round(wait / 1000)}s (over ${maxDelay / 1000}s): ${last}`,
        false,
      );
    }
    await sleep(wait);
    waitedMs += wait;
  }
  throw new SlackDeliveryError(`Slack webhook failed after ${maxAttempts} attempts: ${last}`, false);
}
