/**
 * How a function's code is bundled (issue 14: Lambda cold start). esbuild, as NodejsFunction runs it, with
 * the same options (an ESM bundle for Node.js 24, minified, source maps without the sources, the locked AWS
 * SDK inside, a `require` for the CommonJS dependencies), plus code splitting: what the code imports with
 * `import()` (a database driver, an SDK client used on some invocations only, the SDK's credential providers
 * other than the environment's) goes into chunks of its own under `chunks/`, which Node.js reads only when the
 * import runs. The entry stays `index.mjs` (handler `index.handler`). NodejsFunction's own bundling cannot
 * split (it writes one `--outfile`), so the asset is built here with esbuild's API, locally, and
 * `SentinelFunction` hands it to NodejsFunction as its `code`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { AssetHashType, DockerImage, type ILocalBundling } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type { BuildOptions } from 'esbuild';
import { REPO_ROOT } from './paths';

/** The handler setting of every bundled function: `handler` exported by `index.mjs`. */
export const BUNDLE_HANDLER = 'index.handler';

/** esbuild's options for a function bundle written to `outdir` from `entry` (see the file comment). */
export function bundleOptions(entry: string, outdir: string): BuildOptions {
  return {
    entryPoints: { index: entry },
    outdir,
    absWorkingDir: REPO_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    // CommonJS dependencies bundled into ESM still call require(); give every output file one.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    // Bundle the AWS SDK too: the deployed code runs the SDK version package-lock.json pins and the tests
    // ran, not whatever the runtime ships.
    external: [],
    // esbuild's per-file size table on every synth and test run is noise; warnings still print.
    logLevel: 'warning',
  };
}

/**
 * Bundles one entry with esbuild's API, locally. The entry is a property so that CDK's asset cache, keyed
 * by the bundling options as JSON (functions left out), tells the functions apart.
 */
class EsbuildBundling implements ILocalBundling {
  constructor(readonly entry: string) {}

  tryBundle(outputDir: string): boolean {
    // Loaded here: synthesizing without bundling (most tests, local mode) never starts esbuild.
    const esbuild = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
    esbuild.buildSync(bundleOptions(join(REPO_ROOT, this.entry), outputDir));
    return true;
  }
}

/**
 * The asset of the function whose entry file is `entry`: bundled by {@link bundleOptions} when the stack is
 * bundled (`cdk synth`/`deploy`; tests that skip bundling get CDK's placeholder), hashed by its output.
 */
export function functionCode(entry: string): Code {
  return Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never used: local bundling always succeeds or throws (esbuild is a dev dependency of this repo).
      image: DockerImage.fromRegistry('dummy'),
      local: new EsbuildBundling(relative(REPO_ROOT, entry)),
    },
  });
}

/**
 * The files of a bundle that a cold start reads: the entry and the chunks it imports statically, transitively
 * (`import … from "./chunk.mjs"`; not the `import("./chunk.mjs")` that run on demand).
 */
export function filesReadAtInit(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*"(\.{1,2}\/[^"]+\.mjs)"/g)) {
      visit(join(dirname(file), match[1] ?? ''));
    }
  };
  visit(entry);
  return [...seen];
}
