import { describe, expect, it } from '@jest/globals';
import { parseClusterConfig } from '../../functions/core/config/parse';
import { secretsOutsidePrefix } from '../../local/stack-secrets';

const SECRET = (name: string) => `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
const config = parseClusterConfig(
  [
    'clusters:',
    '  - id: orders',
    '    engine: redis',
    '    fencing: trust-quorum',
    `    credentialsSecretArn: ${SECRET('replica-sentinel/orders')}`,
    '    nodes: [{ id: r1, url: "redis://10.0.1.1:6379" }, { id: r2, url: "redis://10.0.1.2:6379" }]',
    '  - id: cache',
    '    engine: redis',
    '    fencing: trust-quorum',
    `    credentialsSecretArn: ${SECRET('cache-db')}`,
    '    nodes: [{ id: r1, url: "redis://10.0.2.1:6379" }, { id: r2, url: "redis://10.0.2.2:6379" }]',
    '    hooks:',
    `      repoint: { type: https, url: "https://ops.example.com/repoint", secretArn: "${SECRET('hooks/signing')}" }`,
  ].join('\n'),
);

describe('watch --stack: secrets the deployed runbooks may not read', () => {
  it('names each secret outside the stack prefix, and none under it', () => {
    expect(secretsOutsidePrefix(config, 'Prod', 'replica-sentinel/')).toEqual([
      'warning: clusters cache credentialsSecretArn: cache-db — stack Prod reads secrets named replica-sentinel/…; its runbooks can read this secret only if the configuration file it was deployed with names it (else AccessDenied at run time)',
      'warning: clusters cache hooks.repoint.secretArn: hooks/signing — stack Prod reads secrets named replica-sentinel/…; its runbooks can read this secret only if the configuration file it was deployed with names it (else AccessDenied at run time)',
    ]);
  });

  it('names every secret when the stack grants none by name', () => {
    expect(secretsOutsidePrefix(config, 'Prod', undefined)).toHaveLength(3);
  });
});
