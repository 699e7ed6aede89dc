import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { javaMajorVersion } from '../../local/dynamodb-local';
import { cli } from '../support/cli';

const INSTALL = 'apt-get install openjdk-17-jre-headless, or brew install openjdk@17';

describe('replica-sentinel local up on a machine without a usable Java', () => {
  let dir: string;
  /** An environment whose PATH holds only a `node` (and, for some tests, a `java`); JAVA_HOME unset. */
  let envWith: (extraPath?: string, extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rs-java-'));
    mkdirSync(join(dir, 'node-only'));
    symlinkSync(process.execPath, join(dir, 'node-only', 'node'));
    const { JAVA_HOME: _home, PATH: _path, ...rest } = process.env;
    envWith = (extraPath, extra = {}) => ({
      ...rest,
      PATH: [join(dir, 'node-only'), ...(extraPath ? [extraPath] : [])].join(':'),
      ...extra,
    });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('says what to install, on one line, and exits 2 when java is not on PATH', async () => {
    const result = await cli(['local', 'up', '--port', '0'], envWith());
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: `replica-sentinel: DynamoDB Local needs Java 17+ (java not found on PATH): ${INSTALL}\n`,
    });
  });

  it('points at JAVA_HOME when it is set but its bin is not on PATH', async () => {
    const home = join(dir, 'jdk-17');
    const result = await cli(['local', 'up', '--port', '0'], envWith(undefined, { JAVA_HOME: home }));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `replica-sentinel: DynamoDB Local needs Java 17+ (java not found on PATH): ${INSTALL} (JAVA_HOME is ${home}: if Java is there, put $JAVA_HOME/bin on PATH)\n`,
    );
  });

  it('names the version when the java on PATH is older than 17', async () => {
    const old = join(dir, 'java-11');
    mkdirSync(old);
    // What a Java 11 runtime prints for `java -version` (on stderr).
    writeFileSync(
      join(old, 'java'),
      "#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\necho 'OpenJDK Runtime Environment (build 11.0.22+7)' >&2\n",
    );
    chmodSync(join(old, 'java'), 0o755);
    const result = await cli(['local', 'up', '--port', '0'], envWith(old));
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: `replica-sentinel: DynamoDB Local needs Java 17+ (the java on PATH is Java 11): ${INSTALL}, and put it first on PATH\n`,
    });
  });

  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['openjdk version "21" 2023-09-19', 21],
    ['java version "1.8.0_392"', 8],
    ['no version here', undefined],
  ])('reads the major version of %j as %p', (output, major) => {
    expect(javaMajorVersion(output)).toBe(major);
  });
});
