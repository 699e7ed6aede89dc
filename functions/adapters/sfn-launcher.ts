import type { SFNClient } from '@aws-sdk/client-sfn';
import { executionNameFor, type Incident, type RunbookName } from '../core/incidents';
import type { RunbookState } from '../core/runbook';
import { type ClientSource, clientOf } from './clients';
import type { RunbookExecutions, RunbookLauncher } from './runbooks';

/** The Step Functions client and package, loaded on first use (clients.ts). */
async function sfn(source: ClientSource<SFNClient>) {
  const [client, sdk] = await Promise.all([clientOf(source), import('@aws-sdk/client-sfn')]);
  return { client, sdk };
}

/** The runbook input for an incident: what the first state receives. */
export function runbookInput(incident: Incident): RunbookState {
  if (!incident.runbook) throw new Error(`incident ${incident.incidentId} has no runbook`);
  return {
    runbook: incident.runbook,
    incidentId: incident.incidentId,
    clusterId: incident.clusterId,
    nodeId: incident.nodeId,
    kind: incident.kind,
    openedAt: incident.openedAt,
    executionName: executionNameFor(incident),
    ...(incident.request ? { requested: incident.request } : {}),
  };
}

/** Starts the incident's runbook in Step Functions, named by the incident: a repeated start runs nothing twice. */
export class StepFunctionsLauncher implements RunbookLauncher {
  constructor(
    private readonly client: ClientSource<SFNClient>,
    /** The state machine of each runbook this launcher may start (on-transition: failover and recovery). */
    private readonly stateMachines: Readonly<Partial<Record<RunbookName, string>>>,
  ) {}

  async start(incident: Incident): Promise<{ executionArn?: string; note: string }> {
    const input = runbookInput(incident);
    const stateMachineArn = this.stateMachines[input.runbook];
    if (stateMachineArn === undefined) throw new Error(`no state machine configured for ${input.runbook}`);
    const { client, sdk } = await sfn(this.client);
    try {
      const { executionArn } = await client.send(
        new sdk.StartExecutionCommand({
          stateMachineArn,
          name: input.executionName,
          input: JSON.stringify(input),
        }),
      );
      return {
        ...(executionArn ? { executionArn } : {}),
        note: `started ${input.runbook} as ${input.executionName}`,
      };
    } catch (error) {
      if (error instanceof sdk.ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') {
        const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.executionName}`;
        return { executionArn, note: `${input.runbook} ${input.executionName} was already started` };
      }
      throw error;
    }
  }
}

/** The ARN of the incident's execution of its runbook's state machine. */
function executionArnOf(stateMachineArn: string, incident: Incident): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionNameFor(incident)}`;
}

/** The incidents' runbook executions in Step Functions (DescribeExecution, StopExecution). */
export class StepFunctionsExecutions implements RunbookExecutions {
  constructor(
    private readonly client: ClientSource<SFNClient>,
    /** State machine ARN per runbook name. */
    private readonly stateMachines: Readonly<Record<string, string>>,
  ) {}

  private arn(incident: Incident): string | undefined {
    const stateMachineArn = incident.runbook ? this.stateMachines[incident.runbook] : undefined;
    return stateMachineArn === undefined ? undefined : executionArnOf(stateMachineArn, incident);
  }

  async isRunning(incident: Incident): Promise<boolean> {
    const executionArn = this.arn(incident);
    if (executionArn === undefined) return false;
    const { client, sdk } = await sfn(this.client);
    try {
      const { status } = await client.send(new sdk.DescribeExecutionCommand({ executionArn }));
      return status === 'RUNNING';
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return false;
      throw error;
    }
  }

  async stop(incident: Incident, cause: string): Promise<void> {
    const executionArn = this.arn(incident);
    if (executionArn === undefined) return;
    const { client, sdk } = await sfn(this.client);
    await client.send(
      new sdk.StopExecutionCommand({ executionArn, error: 'OperatorUnlock', cause: cause.slice(0, 32_000) }),
    );
  }
}
