import { describe, expect, it, jest } from '@jest/globals';
import { postToSlack, retryAfterMs, SlackDeliveryError } from '../../functions/adapters/slack';

const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/SECRETxyz';
const SECRET = 'SECRETxyz';
const NOW = Date.parse('2025-01-15T08:00:00.000Z');
const BODY = { text: 'STALLED: cache-redis/r2', blocks: [] };

/** One scripted answer of the fake Slack: a response, or a network failure. */
type Step = { status: number; body?: string; retryAfter?: string } | { fail: Error };

/** A fetch that answers the steps in order and records what it was asked. */
function fakeSlack(...steps: Step[]) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const slept: number[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    calls.push({ url: String(input), init });
    const step = steps[calls.length - 1];
    if (step === undefined) throw new Error(`unexpected call ${calls.length}`);
    if ('fail' in step) throw step.fail;
    const headers: Record<string, string> =
      step.retryAfter === undefined ? {} : { 'retry-after': step.retryAfter };
    return new Response(step.body ?? '', { status: step.status, headers });
  };
  const sleep = async (ms: number) => {
    slept.push(ms);
  };
  return { fetch, sleep, random: () => 0.5, calls, slept };
}

/** The error postToSlack rejected with (fails the test if it resolved). */
async function failure(promise: Promise<unknown>): Promise<SlackDeliveryError> {
  const error = await promise.then(
    (result) => new Error(`expected a failure, got ${JSON.stringify(result)}`),
    (e: unknown) => e,
  );
  if (!(error instanceof SlackDeliveryError)) throw error;
  return error;
}

describe('retryAfterMs', () => {
  it.each<[string, string | null, number | undefined]>([
    ['whole seconds', '3', 3000],
    ['zero', '0', 0],
    ['an HTTP date 10 s ahead', 'Wed, 15 Jan 2025 08:00:10 GMT', 10_000],
    ['an HTTP date already past', 'Wed, 15 Jan 2025 07:59:00 GMT', 0],
    ['a word', 'soon', undefined],
    ['no header', null, undefined],
  ])('reads %s (%p) as %p ms', (_name, header, expected) => {
    expect(retryAfterMs(header, NOW)).toBe(expected);
  });

  it.each<[string, string]>([
    ['an empty header', ''],
    ['negative seconds', '-5'],
    ['words ending in a number', 'later 5'],
    ['a word and a number', 'abc 12'],
  ])('does not read %s (%p) as "retry at once"', (_name, header) => {
    expect(retryAfterMs(header, NOW)).toBeUndefined();
  });
});

describe('postToSlack', () => {
  it('posts the message as JSON once when Slack accepts it at the first try', async () => {
    // Prepare
    const slack = fakeSlack({ status: 200, body: 'ok' });

    // Act
    const result = await postToSlack(WEBHOOK, BODY, slack);

    // Assess
    expect(result).toEqual({ attempts: 1, waitedMs: 0 });
    expect(slack.calls).toHaveLength(1);
    expect(slack.calls[0]?.url).toBe(WEBHOOK);
    expect(slack.calls[0]?.init).toMatchObject({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(BODY),
    });
    expect(slack.calls[0]?.init?.signal).toBeInstanceOf(AbortSignal);
    expect(slack.slept).toEqual([]);
  });

  it('waits exactly the Retry-After seconds of a 429 before trying again', async () => {
    // Prepare
    const slack = fakeSlack(
      { status: 429, body: 'rate_limited', retryAfter: '3' },
      { status: 200, body: 'ok' },
    );

    // Act
    const result = await postToSlack(WEBHOOK, BODY, slack);

    // Assess
    expect(slack.slept).toEqual([3000]);
    expect(result).toEqual({ attempts: 2, waitedMs: 3000 });
  });

  it('backs off like for a 5xx when a 429 has no Retry-After', async () => {
    // Prepare
    const slack = fakeSlack({ status: 429, body: 'rate_limited' }, { status: 200, body: 'ok' });

    // Act
    const result = await postToSlack(WEBHOOK, BODY, slack);

    // Assess
    expect(slack.slept).toEqual([375]);
    expect(result).toEqual({ attempts: 2, waitedMs: 375 });
  });

  it('backs off like for a 5xx when the Retry-After of a 429 cannot be read', async () => {
    // Prepare
    const slack = fakeSlack({ status: 429, body: 'rate_limited', retryAfter: 'later 5' }, { status: 200 });

    // Act
    const result = await postToSlack(WEBHOOK, BODY, slack);

    // Assess
    expect(slack.slept).toEqual([375]);
    expect(result).toEqual({ attempts: 2, waitedMs: 375 });
  });

  it('backs off exponentially with jitter after 503s', async () => {
    // Prepare: random() = 0.5, so each wait is base * 2^(n-1) * 0.75
    const slack = fakeSlack({ status: 503 }, { status: 503 }, { status: 200, body: 'ok' });

    // Act
    const result = await postToSlack(WEBHOOK, BODY, slack);

    // Assess
    expect(slack.slept).toEqual([500 * 0.75, 1000 * 0.75]);
    expect(result).toEqual({ attempts: 3, waitedMs: 1125 });
  });

  it.each([
    { random: 0, slept: [250, 500] },
    { random: 1, slept: [500, 1000] },
  ])('keeps the jitter between half and the whole backoff (random $random)', async ({ random, slept }) => {
    // Prepare
    const slack = fakeSlack({ status: 502 }, { status: 504 }, { status: 200 });

    // Act
    await postToSlack(WEBHOOK, BODY, { ...slack, random: () => random });

    // Assess
    expect(slack.slept).toEqual(slept);
  });

  it.each([
    { status: 400, body: 'invalid_payload' },
    { status: 403, body: 'action_prohibited' },
    { status: 404, body: 'no_service' },
    { status: 410, body: 'channel_is_archived' },
  ])('gives up at once on a $status, a permanent refusal', async ({ status, body }) => {
    // Prepare
    const slack = fakeSlack({ status, body });

    // Act
    const error = await failure(postToSlack(WEBHOOK, BODY, slack));

    // Assess
    expect(error.permanent).toBe(true);
    expect(error.name).toBe('SlackDeliveryError');
    expect(error.message).toBe(`Slack webhook refused the message permanently: HTTP ${status} ${body}`);
    expect(slack.calls).toHaveLength(1);
    expect(slack.slept).toEqual([]);
  });

  it('gives up after 5 attempts and 4 waits when Slack keeps answering 500', async () => {
    // Prepare
    const slack = fakeSlack(...Array.from({ length: 5 }, () => ({ status: 500, body: 'internal_error' })));

    // Act
    const error = await failure(postToSlack(WEBHOOK, BODY, slack));

    // Assess
    expect(error.permanent).toBe(false);
    expect(error.message).toBe('Slack webhook failed after 5 attempts: HTTP 500 internal_error');
    expect(slack.calls).toHaveLength(5);
    expect(slack.slept).toEqual([375, 750, 1500, 3000]);
  });

  it('gives up without waiting when Retry-After is longer than maxDelayMs', async () => {
    // Prepare
    const slack = fakeSlack({ status: 429, body: 'rate_limited', retryAfter: '60' }, { status: 200 });

    // Act
    const error = await failure(postToSlack(WEBHOOK, BODY, { ...slack, maxDelayMs: 30_000 }));

    // Assess
    expect(error.permanent).toBe(false);
    expect(error.message).toBe('Slack asked to wait 60s (over 30s): HTTP 429 rate_limited');
    expect(slack.calls).toHaveLength(1);
    expect(slack.slept).toEqual([]);
  });

  it('retries after a network error', async () => {
    // Prepare
    const slack = fakeSlack({ fail: new TypeError('fetch failed') }, { status: 200, body: 'ok' });

    // Act
    const result = await postToSlack(WEBHOOK, BODY, slack);

    // Assess
    expect(result).toEqual({ attempts: 2, waitedMs: 375 });
    expect(slack.slept).toEqual([375]);
  });

  it('honours maxAttempts and baseDelayMs', async () => {
    // Prepare
    const slack = fakeSlack({ status: 503 }, { status: 503 }, { status: 503 });

    // Act
    const error = await failure(postToSlack(WEBHOOK, BODY, { ...slack, maxAttempts: 3, baseDelayMs: 100 }));

    // Assess
    expect(error.message).toBe('Slack webhook failed after 3 attempts: HTTP 503');
    expect(slack.slept).toEqual([75, 150]);
  });

  describe('never puts the webhook URL (a credential) in its errors', () => {
    const urlError = new TypeError(`Failed to fetch ${WEBHOOK}: getaddrinfo ENOTFOUND hooks.slack.com`);

    it.each<[string, Step[]]>([
      ['a permanent refusal', [{ status: 404, body: 'no_service' }]],
      ['five 500s', Array.from({ length: 5 }, () => ({ status: 500, body: 'internal_error' }))],
      ['a Retry-After too long', [{ status: 429, body: 'rate_limited', retryAfter: '3600' }]],
      ['network errors that name the URL', Array.from({ length: 5 }, () => ({ fail: urlError }))],
    ])('after %s', async (_name, steps) => {
      // Prepare
      const slack = fakeSlack(...steps);

      // Act
      const error = await failure(postToSlack(WEBHOOK, BODY, slack));

      // Assess
      expect(error.message).not.toContain(SECRET);
      expect(String(error.stack)).not.toContain(SECRET);
      expect(JSON.stringify(error)).not.toContain(SECRET);
    });

    it('says it was a network error, by the error name only', async () => {
      // Prepare
      const slack = fakeSlack(...Array.from({ length: 5 }, () => ({ fail: urlError })));

      // Act
      const error = await failure(postToSlack(WEBHOOK, BODY, slack));

      // Assess
      expect(error.message).toBe('Slack webhook failed after 5 attempts: network error: TypeError');
    });
  });
});

describe('postToSlack within the Lambda time left', () => {
  it('stops before a wait that would outlast the invocation, with the last answer as the reason', async () => {
    const slack = fakeSlack({ status: 503 }, { status: 429, retryAfter: '20' });
    let left = 20_000;
    const sleep = async (ms: number) => {
      slack.slept.push(ms);
      left -= ms;
    };
    const error = await failure(postToSlack(WEBHOOK, BODY, { ...slack, sleep, remainingMs: () => left }));
    expect(error.permanent).toBe(false);
    expect(error.message).toMatch(/^out of time after 2 attempts \(the next would start in 20s\): HTTP 429/);
    expect(error.message).not.toContain(SECRET);
    expect(slack.calls).toHaveLength(2);
  });

  it('gives an attempt no more than the time left, and makes none when nothing is left', async () => {
    // 2.5 s left, less the 2 s margin (SlackPostOptions.remainingMs): the attempt's deadline is at most
    // 0.5 s, far below the 10 s an attempt may take when time is plenty.
    const left = 2_500;
    const margin = 2_000;
    const timeouts = jest.spyOn(AbortSignal, 'timeout');
    try {
      const slack = fakeSlack({ status: 200 });
      await postToSlack(WEBHOOK, BODY, { ...slack, remainingMs: () => left });
      expect(timeouts).toHaveBeenCalledTimes(1);
      const deadline = timeouts.mock.calls[0]?.[0];
      expect(deadline).toBeGreaterThan(0);
      expect(deadline).toBeLessThanOrEqual(left - margin);
      // The attempt is the one cut short by that deadline.
      expect(slack.calls[0]?.init?.signal).toBe(timeouts.mock.results[0]?.value);
    } finally {
      timeouts.mockRestore();
    }
    const slack = fakeSlack({ status: 200 });
    const none = await failure(postToSlack(WEBHOOK, BODY, { ...slack, remainingMs: () => 1_500 }));
    expect(none.message).toBe('out of time after 0 attempts: none made');
  });
});
