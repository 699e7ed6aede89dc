import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RecoveryStore } from '../adapters/recovery-store';
import { OperatorError } from '../core/operator-routes';
import type { ApprovalDecision } from '../core/runbook';

/** Hands a decision back to the waiting runbook (SendTaskSuccess in AWS, the local runner locally). */
export interface TaskTokens {
  succeed(taskToken: string, decision: ApprovalDecision): Promise<void>;
}

export interface DecisionRequest {
  readonly clusterId: string;
  readonly incidentId: string;
  readonly approved: boolean;
  readonly by: string;
  readonly reason?: string;
}

/**
 * Applies an operator's decision to an incident waiting for approval. The runbook records it (ApplyApproval)
 * and goes on or stops; an incident that is not waiting, or whose wait expired, is refused with a reason.
 */
export async function decide(
  deps: { recovery: Pick<RecoveryStore, 'findIncident'>; tokens: TaskTokens },
  request: DecisionRequest,
): Promise<{ incidentId: string; decision: string }> {
  const incident = await deps.recovery.findIncident(request.clusterId, request.incidentId);
  if (!incident)
    throw new OperatorError(
      `incident ${request.incidentId} of cluster ${request.clusterId} does not exist`,
      404,
    );
  if (!incident.approvalToken) {
    throw new OperatorError(
      `incident ${request.incidentId} is not waiting for an approval (its runbook outcome: ${String((incident as { outcome?: string }).outcome ?? 'none yet')})`,
      409,
    );
  }
  try {
    await deps.tokens.succeed(incident.approvalToken, {
      approved: request.approved,
      by: request.by,
      ...(request.reason ? { reason: request.reason } : {}),
    });
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken') {
      throw new OperatorError(
        `the approval of incident ${request.incidentId} expired or was already decided`,
        410,
      );
    }
    throw error;
  }
  return { incidentId: request.incidentId, decision: request.approved ? 'approved' : 'rejected' };
}

/**
 * Verifies a Slack request signature (v0 scheme: HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the app's
 * signing secret), refusing requests older than 5 minutes (replays).
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: { timestamp?: string; signature?: string },
  rawBody: string,
  now: number,
): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > 300 || !headers.signature)
    return false;
  const expected = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(headers.signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A Slack interactive button press: form-encoded `payload` JSON whose first action's value is
 * `<clusterId>|<incidentId>|approve|reject` (set by the approval message's buttons).
 */
export function parseSlackAction(rawBody: string): DecisionRequest {
  const payload = new URLSearchParams(rawBody).get('payload');
  if (!payload) throw new Error('the Slack request has no payload');
  const parsed = JSON.parse(payload) as {
    user?: { username?: string; name?: string; id?: string };
    actions?: { value?: string }[];
  };
  const value = parsed.actions?.[0]?.value ?? '';
  const [clusterId, incidentId, decision] = value.split('|');
  if (!clusterId || !incidentId || (decision !== 'approve' && decision !== 'reject')) {
    throw new Error(`the Slack action value '${value}' is not <cluster>|<incident>|approve|reject`);
  }
  const user = parsed.user?.username ?? parsed.user?.name ?? parsed.user?.id ?? 'unknown Slack user';
  return { clusterId, incidentId, approved: decision === 'approve', by: `slack:${user}` };
}
