import type { RunbookExecutions, RunbookLauncher } from '../functions/adapters/runbooks';
import { runbookInput } from '../functions/adapters/sfn-launcher';
import { executionNameFor, type Incident } from '../functions/core/incidents';
import type { ApprovalDecision } from '../functions/core/runbook';
import { type RunbookRun, type RunRunbookOptions, runRunbook } from './runbook-runner';

/**
 * Local mode's Step Functions: starts the incident's runbook from the synthesized state machine
 * (local/runbook-runner.ts) in the background, once per execution name of each state machine, as
 * StartExecution would. Names are unique per state machine, not across them: an open incident whose
 * replica recovery ran (a STALLED replica) and whose node, promoted since, then dies as a primary hands the
 * same name to primary-failover, which must start.
 */
export class LocalRunbookLauncher implements RunbookLauncher, RunbookExecutions {
  /** By state machine and execution name. */
  private readonly runs = new Map<string, Promise<RunbookRun>>();
  /** The runs still going, each with its own stop (StopExecution). */
  private readonly running = new Map<string, AbortController>();
  /** Aborts every run, started or to come (local mode stopping). */
  private readonly aborting = new AbortController();

  constructor(
    private readonly options: Omit<RunRunbookOptions, 'approvals'> & {
      approvals?: RunRunbookOptions['approvals'];
      onFinished?: (name: string, run: RunbookRun) => void;
    },
  ) {}

  async start(incident: Incident): Promise<{ executionArn?: string; note: string }> {
    const input = runbookInput(incident);
    const key = `${input.runbook}/${input.executionName}`;
    if (this.runs.has(key)) {
      return { note: `${input.runbook} ${input.executionName} was already started` };
    }
    const approvals = this.options.approvals ?? (() => new Promise<ApprovalDecision>(() => undefined));
    const own = new AbortController();
    const signal = AbortSignal.any([
      own.signal,
      this.aborting.signal,
      ...(this.options.signal === undefined ? [] : [this.options.signal]),
    ]);
    this.running.set(input.executionName, own);
    const run = runRunbook(input.runbook, input, { ...this.options, approvals, signal }).then((result) => {
      this.running.delete(input.executionName);
      this.options.onFinished?.(input.executionName, result);
      return result;
    });
    this.runs.set(key, run);
    return {
      executionArn: `local:${input.runbook}:${input.executionName}`,
      note: `started ${input.runbook} as ${input.executionName} (local)`,
    };
  }

  /**
   * Aborts every run (status ABORTED, as StopExecution): a stop does not wait out hook retries or Wait
   * states. Runs started afterwards end ABORTED at once.
   */
  abort(): void {
    this.aborting.abort();
  }

  async isRunning(incident: Incident): Promise<boolean> {
    return this.running.has(executionNameFor(incident));
  }

  /** Stops the incident's run (status ABORTED) and resolves once it has ended. */
  async stop(incident: Incident): Promise<void> {
    const name = executionNameFor(incident);
    this.running.get(name)?.abort();
    await this.runs.get(`${incident.runbook}/${name}`)?.catch(() => undefined);
  }

  /** Resolves when every run started so far has finished. */
  async settled(): Promise<RunbookRun[]> {
    return Promise.all(this.runs.values());
  }
}
