import closeWithGrace from 'close-with-grace';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBuildInfo } from './build-info.js';
import { ConfigError, loadConfig } from './config/load.js';
import { unknownVars } from './config/unknown-vars.js';
import { TlsConfigError } from './api/tls.js';
import { createDaemon } from './daemon.js';
import { IptablesBackend } from './network/iptables.js';
import { createLogger } from './logger.js';
import { DockerRuntime } from './runtime/docker-runtime.js';
import { StoreOpenError } from './store/db.js';

/** Process entry: config -> daemon -> listen; signals close it gracefully. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pinacled: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  for (const v of unknownVars(process.env)) {
    log.warn({ variable: v.name, nearest: v.nearest }, `unknown setting ${v.name} is ignored; did you mean ${v.nearest}?`);
  }
  const runtime = new DockerRuntime({ dockerHost: config.dockerHost, timeoutMs: config.engineTimeoutMs });
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const openapiPath = resolve(root, 'openapi.yaml');
  let daemon;
  try {
    daemon = await createDaemon(config, runtime, log, openapiPath, { firewall: new IptablesBackend(), build: readBuildInfo(root) });
  } catch (err) {
    if (err instanceof TlsConfigError) {
      log.fatal({ err: err.message }, 'cannot load the TLS files');
      process.exit(78); // EX_CONFIG
    }
    if (err instanceof StoreOpenError) {
      log.fatal({ err: err.message }, 'cannot open the state database');
      process.exit(74); // EX_IOERR
    }
    throw err;
  }
  closeWithGrace({ delay: 20_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'fatal error; shutting down');
    else log.info({ signal }, 'shutting down; running pods keep running');
    await daemon.close();
  });
  const address = await daemon.app.listen({ host: config.host, port: config.port });
  log.info({ address, runtime: config.runtime, dataDir: config.dataDir, tls: !!config.tls, clientCerts: !!config.tls?.clientCa, firewall: config.firewall.mode }, 'pinacled listening');
}

main().catch((err) => {
  process.stderr.write(`pinacled: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
