import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A throw-away self-signed certificate for 127.0.0.1 (openssl), for an HTTPS stand-in that a child process
 * trusts through NODE_EXTRA_CA_CERTS=`certFile`. `remove()` deletes the files.
 */
export async function selfSignedCertificate(): Promise<{
  key: string;
  cert: string;
  certFile: string;
  remove: () => void;
}> {
  const directory = mkdtempSync(join(tmpdir(), 'replica-sentinel-tls-'));
  const keyFile = join(directory, 'key.pem');
  const certFile = join(directory, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return {
    key: readFileSync(keyFile, 'utf8'),
    cert: readFileSync(certFile, 'utf8'),
    certFile,
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
