/**
 * What local/runbook-runner.ts needs to know about the synthesized runbooks beyond the ASL itself, kept free
 * of CDK imports so the runner can load cached definitions without loading aws-cdk-lib.
 *
 * The contract (functions/core/runbook.ts) names the states of each runbook. A Task cannot branch, so each
 * step whose `next` decides where to go is followed by a Choice the contract does not name ("ReVerify next:
 * proceed → TakeLock | abort → Done" is the Task ReVerify plus the Choice ReVerifyOutcome). Those routing
 * Choices carry a Comment starting with {@link ROUTING_COMMENT_PREFIX}: the runner leaves them out of the
 * path it reports, so that the path reads as the contract's states.
 */
export const ROUTING_COMMENT_PREFIX = 'Routing of ';

/** The Comment of the routing Choice that follows `task` and branches on `field`. */
export function routingComment(task: string, field: string): string {
  return `${ROUTING_COMMENT_PREFIX}${task}: branches on ${field}`;
}
