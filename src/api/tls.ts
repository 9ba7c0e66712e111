import { readFileSync, statSync } from 'node:fs';
import type { SecureServerOptions } from 'node:http2';

export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA bundle that signs the control plane's client certificates (mutual TLS). */
  clientCa: string | undefined;
}

/** The `https` options of Fastify/Node's TLS server. */
export type HttpsOptions = Pick<SecureServerOptions, 'key' | 'cert' | 'ca' | 'requestCert' | 'rejectUnauthorized' | 'minVersion'>;

function read(label: string, file: string, secret: boolean): Buffer {
  try {
    // A private key readable by other local users is as good as published.
    if (secret && (statSync(file).mode & 0o077) !== 0) {
      throw new TlsConfigError(`${label}: ${file} must not be readable by group or others (chmod 600 ${file})`);
    }
    return readFileSync(file);
  } catch (err) {
    if (err instanceof TlsConfigError) throw err;
    throw new TlsConfigError(`${label}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * Reads the TLS files once at start. With a client CA the handshake itself refuses clients
 * without a certificate that CA signed (fail closed: nothing unauthenticated reaches the HTTP
 * parser); the bearer token is still required on top. /healthz is behind it too, so a local
 * probe needs a client certificate as well.
 */
export function httpsOptions(files: TlsFiles): HttpsOptions {
  const opts: HttpsOptions = {
    cert: read('PINACLED_TLS_CERT', files.cert, false),
    key: read('PINACLED_TLS_KEY', files.key, true),
    minVersion: 'TLSv1.2',
  };
  if (files.clientCa) {
    opts.ca = read('PINACLED_TLS_CLIENT_CA', files.clientCa, false);
    opts.requestCert = true;
    opts.rejectUnauthorized = true;
  }
  return opts;
}
