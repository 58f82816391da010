import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of one side of a TLS connection: the CA it trusts, its certificate and its key. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** A throwaway PKI made by one test: nothing is committed, everything lives in a temp folder. */
export interface TestPki {
  readonly dir: string;
  /** For redis-server: its certificate (127.0.0.1, localhost), key, and the CA clients must chain to. */
  readonly server: TlsFiles;
  /** For a client: the CA that signed the server, and a client certificate that CA signed. */
  readonly client: TlsFiles;
  /** A second CA, which signed nothing the server uses. */
  readonly otherCa: string;
}

function openssl(dir: string, args: readonly string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || String(err)}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  writeFileSync(join(dir, `${name}.cnf`), `[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = wbsync test ${name}
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`);
  openssl(dir, ['req', '-x509', '-config', `${name}.cnf`, ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2']);
}

function makeLeaf(dir: string, ca: string, name: string, usage: 'serverAuth' | 'clientAuth', serial: number): void {
  writeFileSync(join(dir, `${name}.cnf`), `[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${usage === 'serverAuth' ? '127.0.0.1' : 'wbsync test client'}
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = ${usage}
${usage === 'serverAuth' ? 'subjectAltName = IP:127.0.0.1,DNS:localhost\n' : ''}`);
  openssl(dir, ['req', '-new', '-config', `${name}.cnf`, ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', String(serial),
    '-days', '2', '-extfile', `${name}.cnf`, '-extensions', 'ext', '-out', `${name}.crt`]);
}

/**
 * A CA, a server certificate and a client certificate it signed, and a second CA that signed
 * nothing: made with `openssl` in a fresh temp folder (EC P-256 keys, valid two days).
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'wbsync-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'ca', 'server', 'serverAuth', 1001);
  makeLeaf(dir, 'ca', 'client', 'clientAuth', 1002);
  const f = (name: string): string => join(dir, name);
  return {
    dir,
    server: { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') },
    client: { ca: f('ca.crt'), cert: f('client.crt'), key: f('client.key') },
    otherCa: f('other-ca.crt'),
  };
}
