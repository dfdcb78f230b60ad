/**
 * Temporal connection settings shared by every process (workers, coordinator, CLI, scripts).
 */
import fs from 'node:fs';
import type { ConnectionOptions } from '@temporalio/client';
import type { Settings } from './config';

type TemporalSettings = Pick<
  Settings,
  | 'temporalAddress'
  | 'temporalNamespace'
  | 'temporalApiKey'
  | 'temporalTls'
  | 'temporalTlsCertPath'
  | 'temporalTlsKeyPath'
  | 'temporalTlsCaPath'
>;

/** Connection options for `Connection.connect` / `NativeConnection.connect`: plain, mTLS or API key. */
export function temporalConnectionOptions(s: TemporalSettings): ConnectionOptions {
  const mtls = s.temporalTlsCertPath !== undefined && s.temporalTlsKeyPath !== undefined;
  const tlsOn = s.temporalTls || mtls || s.temporalApiKey !== undefined;
  const options: ConnectionOptions = { address: s.temporalAddress };
  if (tlsOn) {
    options.tls = {
      ...(s.temporalTlsCaPath ? { serverRootCACertificate: fs.readFileSync(s.temporalTlsCaPath) } : {}),
      ...(mtls
        ? {
            clientCertPair: {
              crt: fs.readFileSync(s.temporalTlsCertPath!),
              key: fs.readFileSync(s.temporalTlsKeyPath!),
            },
          }
        : {}),
    };
  }
  if (s.temporalApiKey !== undefined) options.apiKey = s.temporalApiKey;
  return options;
}
