import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionNameFor, type Incident, type RunbookName } from '../core/incidents';
import type { RunbookState } from '../core/runbook';
import type { RunbookLauncher } from './runbooks';

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
    private readonly client: SFNClient,
    /** The state machine of each runbook this launcher may start (on-transition: failover and recovery). */
    private readonly stateMachines: Readonly<Partial<Record<RunbookName, string>>>,
  ) {}

  async start(incident: Incident): Promise<{ executionArn?: string; note: string }> {
    const input = runbookInput(incident);
    const stateMachineArn = this.stateMachines[input.runbook];
    if (stateMachineArn === undefined) throw new Error(`no state machine configured for ${input.runbook}`);
    try {
      const { executionArn } = await this.client.send(
        new StartExecutionCommand({
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
      if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists') {
        const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.executionName}`;
        return { executionArn, note: `${input.runbook} ${input.executionName} was already started` };
      }
      throw error;
    }
  }
}
