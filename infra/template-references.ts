/**
 * Reading a synthesized CloudFormation template outside AWS: its resources by logical id, and a value that
 * refers to other resources (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`) as a string, each reference replaced
 * by the stand-in it is given or by a stand-in of the right shape. Read by infra/template-functions.ts and by
 * the tests that run what the template holds (test/integration/deployed-bundles.test.ts, sweep-machine.test.ts).
 */

/** A resource of a synthesized template. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/** The resources of `template` (the JSON of a synthesized stack), by logical id. */
export function templateResources(template: unknown): Record<string, TemplateResource> {
  return (template as { Resources?: Record<string, TemplateResource> }).Resources ?? {};
}

/**
 * Stand-ins for a template's references: by logical id for what `Ref` gives, by `<logical id>.<attribute>`
 * for what `Fn::GetAtt` gives.
 */
export type StandIns = Readonly<Record<string, string>>;

/**
 * A template value as a string: a reference with a stand-in in `standIns` is that stand-in; any other
 * reference, attribute or substitution a stand-in ARN of the right shape; joins joined.
 */
export function standIn(value: unknown, standIns: StandIns): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') {
    const known = standIns[v.Ref];
    if (known !== undefined) return known;
    if (v.Ref.startsWith('AWS::'))
      return v.Ref === 'AWS::Region' ? 'us-east-1' : v.Ref === 'AWS::AccountId' ? '123456789012' : 'aws';
    return `arn:aws:states:us-east-1:123456789012:stateMachine:${v.Ref}`;
  }
  if (Array.isArray(v['Fn::GetAtt'])) {
    const [id, attribute] = v['Fn::GetAtt'] as [string, string];
    return standIns[`${id}.${attribute}`] ?? `arn:aws:lambda:us-east-1:123456789012:function:${id}`;
  }
  if (Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => standIn(part, standIns)).join(separator);
  }
  if (typeof v['Fn::Sub'] === 'string') return v['Fn::Sub'].replace(/\$\{[^}]+\}/g, 'stand-in');
  return 'stand-in';
}
