/**
 * Starts the real local services (Temporal dev server, Valkey) as child processes for the local run
 * and the test harness. Every child runs under `dev/watchdog.sh`, so it stops when this Node process
 * exits, however it exits.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../lib/contract';
import { freePort } from '../lib/net';

const ROOT = path.resolve(__dirname, '..');
const WATCHDOG = path.join(ROOT, 'dev', 'watchdog.sh');

/** Tool paths written by `scripts/provision.sh`, overridable by the environment. */
export function toolPaths(): { temporal: string; valkey: string } {
  const file = path.join(ROOT, '.tools', 'env');
  const fromFile: Record<string, string> = {};
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) fromFile[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  const temporal = process.env.TEMPORAL_CLI_PATH ?? fromFile.TEMPORAL_CLI_PATH;
  const valkey = process.env.VALKEY_SERVER_PATH ?? fromFile.VALKEY_SERVER_PATH;
  if (!temporal || !valkey) {
    throw new Error('Temporal CLI or Valkey not provisioned: run scripts/provision.sh first');
  }
  return { temporal, valkey };
}

export { freePort };

/** Resolves once something accepts TCP connections on host:port, or rejects after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, host);
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ServiceHandle {
  readonly name: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL the service itself (not the watchdog), to simulate a crash. */
  kill(): Promise<void>;
}

/** SIGKILL the direct children of `pid` (a watchdog's service). */
function killChildren(pid: number | undefined): void {
  try {
    execFileSync('pkill', ['-KILL', '-P', String(pid)]);
  } catch {
    // none left
  }
}

function supervise(
  name: string,
  port: number,
  command: string,
  args: string[],
  logFile?: string,
): ServiceHandle {
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = spawn(WATCHDOG, [command, ...args], { stdio: ['pipe', out, out] });
  if (typeof out === 'number') fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (graceMs = 10_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // The service itself, then its watchdog: killing only the watchdog would orphan the service.
    const timer = setTimeout(() => {
      killChildren(child.pid);
      child.kill('SIGKILL');
    }, graceMs);
    await exited;
    clearTimeout(timer);
  };
  return {
    name,
    port,
    process: child,
    stop,
    kill: async () => {
      // The watchdog's only child is the service; kill it directly so the watchdog sees a crash.
      killChildren(child.pid);
      await exited;
    },
  };
}

/**
 * Starts a project entry point (`node --import tsx <entry>`) under the watchdog, e.g. the
 * coordinator or a runner for the local run. `port` is informational (its ops port).
 */
export function startEntryProcess(
  name: string,
  entry: string,
  env: Record<string, string>,
  options: { port?: number; logFile?: string; nodeArgs?: string[] } = {},
): ServiceHandle {
  // A compiled entry (`dist/….js`, as the image runs it) needs no TypeScript loader.
  const loader = entry.endsWith('.js') ? [] : ['--import', 'tsx'];
  const args = [...(options.nodeArgs ?? []), ...loader, path.join(ROOT, entry)];
  const handle = supervise(
    name,
    options.port ?? 0,
    'env',
    [...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...args],
    options.logFile,
  );
  return handle;
}

export interface TemporalOptions {
  port?: number;
  /** Web UI port; omitted → headless. */
  uiPort?: number;
  /** SQLite file for persistence; omitted → in memory. */
  dbFile?: string;
  logFile?: string;
  namespace?: string;
  /** More `--dynamic-config-value key=value` settings (benchmarks). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** The UI decodes payloads through this codec server (`<url>/decode`); with the UI only. */
  uiCodecEndpoint?: string;
}

/** Starts `temporal server start-dev` with the project's search attributes registered. */
export async function startTemporal(
  options: TemporalOptions = {},
): Promise<ServiceHandle & { address: string }> {
  const { temporal } = toolPaths();
  const port = options.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  args.push('--namespace', options.namespace ?? 'default');
  if (options.uiPort !== undefined) {
    args.push('--ui-port', String(options.uiPort));
    if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  } else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  // A free metrics port: the default (dynamic) one may collide between parallel servers.
  args.push('--metrics-port', String(await freePort()));
  for (const attr of SEARCH_ATTRIBUTE_REGISTRATIONS) args.push('--search-attribute', attr);
  // Let visibility queries see new search attributes at once (tests and the CLI rely on it).
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true');
  // Task-queue priority and fairness (lib/priority.ts): the matcher that honours them, with
  // fairness keys on, and migration so backlogs from before fairness still drain.
  for (const flag of ['matching.useNewMatcher', 'matching.enableFairness', 'matching.enableMigration']) {
    args.push('--dynamic-config-value', `${flag}=true`);
  }
  // One partition per task queue: a one-machine server gains nothing from four, and fairness is
  // exact within a partition (with several, each is fair on its own; bench/fairness.ts --partitions).
  const dynamicConfig = {
    'matching.numTaskqueueReadPartitions': 1,
    'matching.numTaskqueueWritePartitions': 1,
    ...options.dynamicConfig,
  };
  for (const [k, v] of Object.entries(dynamicConfig)) {
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  }
  const handle = supervise('temporal', port, temporal, args, options.logFile);
  await waitForPort(port, 60_000);
  return { ...handle, address: `127.0.0.1:${port}` };
}

export interface ValkeyOptions {
  port?: number;
  /** Data directory with append-only persistence; omitted → no persistence. */
  dataDir?: string;
  logFile?: string;
  /** Require this password (AUTH); the url then carries it. Kept in a config file, not in `ps`. */
  password?: string;
  /** Users from this ACL file (see k8s/base/valkey-acl.sh); the url then carries no credentials. */
  aclFile?: string;
}

/** Starts `valkey-server` (or `redis-server`) on 127.0.0.1. */
export async function startValkey(options: ValkeyOptions = {}): Promise<ServiceHandle & { url: string }> {
  const { valkey } = toolPaths();
  const port = options.port ?? (await freePort());
  const args: string[] = [];
  if (options.password !== undefined || options.aclFile !== undefined) {
    const dir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bb-valkey-'));
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'auth.conf');
    const auth =
      options.aclFile === undefined ? `requirepass ${options.password}` : `aclfile ${options.aclFile}`;
    fs.writeFileSync(conf, `${auth}\n`, { mode: 0o600 });
    // The config file comes first; the options after it override or add to it.
    args.push(conf);
  }
  args.push('--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--loglevel', 'warning');
  if (options.dataDir) {
    fs.mkdirSync(options.dataDir, { recursive: true });
    args.push('--dir', options.dataDir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '60 1');
  } else {
    args.push('--save', '', '--appendonly', 'no');
  }
  const handle = supervise('valkey', port, valkey, args, options.logFile);
  await waitForPort(port, 20_000);
  const auth =
    options.password === undefined || options.aclFile !== undefined
      ? ''
      : `:${encodeURIComponent(options.password)}@`;
  return { ...handle, url: `redis://${auth}127.0.0.1:${port}` };
}
