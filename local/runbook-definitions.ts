/**
 * The recovery runbooks' state machines as the CDK app synthesizes them, for the local runner
 * (local/runbook-runner.ts): there is no second, hand-written copy of the flow. `loadRunbookDefinitions()`
 * builds the app in-process (infra/build-app.ts, bundling off) into a temporary directory, takes the
 * state machines' `DefinitionString` from the template and resolves its `Fn::Join` / `Fn::GetAtt` / `Ref` to placeholder
 * ARNs ({@link RUNBOOK_STEPS_FUNCTION_ARN} for runbook-steps). The result is cached per process and on disk
 * (`.tmp/runbook-definitions/<hash>.json`, keyed by a hash of infra/**, functions/core/runbook.ts and the
 * aws-cdk-lib version), so only the first run after a change pays for the synthesis (a few seconds).
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import type { RunbookName } from '../functions/core/incidents';
import { REPO_ROOT } from '../infra/paths';
import { isRecord } from './step-functions-json';

/** Region and account of the placeholder ARNs (the definitions never reach AWS). */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '123456789012';
/** What the runbook-steps function's ARN resolves to in the local definitions. */
export const RUNBOOK_STEPS_FUNCTION_ARN = `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:replica-sentinel-runbook-steps`;

/** The two runbooks, their definitions resolved, ready for aws-local-stepfunctions. */
export interface RunbookDefinitions {
  readonly definitions: Readonly<Record<RunbookName, StateMachineDefinition>>;
  /** Timeout (seconds) of the runbook-steps function, from the template. */
  readonly stepsTimeoutSeconds: number;
}

let loaded: Promise<RunbookDefinitions> | undefined;

/**
 * The two runbooks' definitions from the synthesized CDK app, resolved (see the module comment). Cached per
 * process and on disk under .tmp/runbook-definitions/.
 */
export function loadRunbookDefinitions(): Promise<RunbookDefinitions> {
  loaded ??= loadOrSynthesize().catch((error: unknown) => {
    loaded = undefined;
    throw error;
  });
  return loaded;
}

/** Bump when the resolution below changes, so that older cache files are not used. */
const RESOLVER_VERSION = 1;

async function loadOrSynthesize(): Promise<RunbookDefinitions> {
  const cacheDir = join(REPO_ROOT, '.tmp', 'runbook-definitions');
  const file = join(cacheDir, `${sourceHash()}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunbookDefinitions;
  } catch {
    // not cached yet (or unreadable): synthesize
  }
  const definitions = await synthesize();
  mkdirSync(cacheDir, { recursive: true });
  // Written whole, then renamed: a concurrent reader (another test worker) never sees half a file.
  const partial = `${file}.${process.pid}.${randomUUID()}`;
  writeFileSync(partial, JSON.stringify(definitions));
  renameSync(partial, file);
  // Definitions of older sources are never read again.
  for (const old of readdirSync(cacheDir).filter(
    (entry) => entry.endsWith('.json') && join(cacheDir, entry) !== file,
  )) {
    rmSync(join(cacheDir, old), { force: true });
  }
  return definitions;
}

/** Hash of what the definitions are built from: infra/**, the runbook contract and flow tables, the CDK version. */
function sourceHash(): string {
  const hash = createHash('sha256').update(`resolver ${RESOLVER_VERSION}\n`);
  const files = [
    ...listFiles(join(REPO_ROOT, 'infra')),
    join(REPO_ROOT, 'functions', 'core', 'runbook.ts'),
    join(REPO_ROOT, 'functions', 'core', 'runbook-flows.ts'),
  ];
  for (const file of files.sort()) {
    hash
      .update(`${relative(REPO_ROOT, file)}\n`)
      .update(readFileSync(file))
      .update('\n');
  }
  hash.update(readFileSync(join(REPO_ROOT, 'node_modules', 'aws-cdk-lib', 'package.json')));
  return hash.digest('hex').slice(0, 16);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

interface TemplateJson {
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: Record<string, unknown> }
  >;
}

async function synthesize(): Promise<RunbookDefinitions> {
  // Loaded here, not at the top: a cached run never loads aws-cdk-lib.
  const [{ createApp }, { CfnElement }] = await Promise.all([
    import('../infra/build-app'),
    import('aws-cdk-lib'),
  ]);
  const outdir = mkdtempSync(join(tmpdir(), 'replica-sentinel-runbooks-'));
  try {
    const { app, stack } = createApp({
      outdir,
      nag: false,
      context: { region: LOCAL_REGION, 'aws:cdk:bundling-stacks': [] },
    });
    const logicalId = (construct: { node: { defaultChild?: unknown } }): string => {
      const child = construct.node.defaultChild;
      if (!CfnElement.isCfnElement(child))
        throw new Error('runbook-runner: a construct without a CloudFormation resource');
      return stack.getLogicalId(child);
    };
    const ids = {
      steps: logicalId(stack.runbooks.stepsFunction.fn),
      'primary-failover': logicalId(stack.runbooks.failover),
      'replica-recovery': logicalId(stack.runbooks.recovery),
      'primary-switchover': logicalId(stack.runbooks.switchover),
    };
    app.synth();
    const template = JSON.parse(readFileSync(join(outdir, stack.templateFile), 'utf8')) as TemplateJson;
    const definitionOf = (id: string): StateMachineDefinition => {
      const resource = template.Resources[id];
      if (resource?.Type !== 'AWS::StepFunctions::StateMachine') {
        throw new Error(`runbook-runner: ${id} is not a state machine of the synthesized template`);
      }
      const text = resolveIntrinsics(resource.Properties?.DefinitionString, template, ids.steps);
      if (typeof text !== 'string') throw new Error(`runbook-runner: ${id} has no DefinitionString`);
      return JSON.parse(text) as StateMachineDefinition;
    };
    const timeout = template.Resources[ids.steps]?.Properties?.Timeout;
    return {
      definitions: {
        'primary-failover': definitionOf(ids['primary-failover']),
        'replica-recovery': definitionOf(ids['replica-recovery']),
        'primary-switchover': definitionOf(ids['primary-switchover']),
      },
      stepsTimeoutSeconds: typeof timeout === 'number' ? timeout : 3,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'replica-sentinel-local',
};

/** Resolves `Fn::Join`, `Fn::GetAtt` and `Ref` to strings; the steps function to {@link RUNBOOK_STEPS_FUNCTION_ARN}. */
function resolveIntrinsics(value: unknown, template: TemplateJson, stepsId: string): unknown {
  const resolve = (v: unknown): unknown => resolveIntrinsics(v, template, stepsId);
  if (Array.isArray(value)) return value.map(resolve);
  if (!isRecord(value)) return value;
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    return join[1].map((part: unknown) => String(resolve(part))).join(join[0]);
  }
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
    const [id, attribute] = getAtt;
    if (id === stepsId && attribute === 'Arn') return RUNBOOK_STEPS_FUNCTION_ARN;
    const type = template.Resources[id]?.Type ?? 'Unknown';
    return attribute === 'Arn'
      ? `arn:aws:${type.split('::')[1]?.toLowerCase() ?? 'unknown'}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:placeholder/${id}`
      : `${id}.${String(attribute)}`;
  }
  const ref = value.Ref;
  if (typeof ref === 'string') {
    return (
      PSEUDO_PARAMETERS[ref] ?? (ref === stepsId ? 'replica-sentinel-runbook-steps' : `placeholder-${ref}`)
    );
  }
  if (Object.keys(value).some((key) => key.startsWith('Fn::'))) {
    throw new Error(
      `runbook-runner: cannot resolve ${Object.keys(value).join(', ')} in a state machine definition`,
    );
  }
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, resolve(v)]));
}
