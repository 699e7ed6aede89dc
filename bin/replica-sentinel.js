#!/usr/bin/env node
// The CLI entry: runs the TypeScript sources through tsx's loader (no build step needed).
import { register } from 'tsx/esm/api';

// The AWS SDK warns on every start that its 2027 releases will need Node 22. An operator's one-line
// error must stay one line, so that one warning (and only it) is dropped here.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  const text = typeof warning === 'string' ? warning : warning?.message;
  const type = typeof rest[0] === 'string' ? rest[0] : rest[0]?.type;
  if (type === 'NodeVersionSupportWarning' || /^NodeVersionSupportWarning/.test(text ?? '')) return;
  emitWarning(warning, ...rest);
};

register();
const { main } = await import('../local/cli.ts');
process.exitCode = await main(process.argv.slice(2));
