/**
 * The network of a CLI executor: none, except what the runner serves it.
 *
 * A coding CLI runs in a sandbox without a network namespace of its own (`network: false`), so it
 * can reach no host, no cluster service, not even the runner's loopback (Temporal, Valkey). What it
 * needs, the model API and the Hub MCP endpoint, the runner serves as HTTP on Unix sockets in a
 * per-run folder that is bound read-only into the sandbox. A small forwarder started first inside
 * the sandbox (FORWARDER below, plain Node) listens on 127.0.0.1:<port> of the sandbox's own
 * loopback and pipes each connection to its socket, then runs the CLI and exits with it. The CLI
 * is configured with `http://127.0.0.1:<port>` and a placeholder key: the model proxy puts the
 * runner's real key on each request on the way out (so no key ever enters the sandbox), meters the
 * usage each answer reports, and refuses calls once the run's budget is spent.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

/** What a bridged port serves: an HTTP handler on the runner. */
export type BridgeHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface Bridge {
  /** The folder to bind read-only into the sandbox (holds the sockets and the forwarder). */
  readonly dir: string;
  /** `command args` prefixed with the forwarder, to run inside the sandbox. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  close(): Promise<void>;
}

/**
 * The in-sandbox forwarder: `node forward.js <dir> <port>... -- <command> <args>...`. Kept as plain
 * CommonJS text so it needs nothing but the Node binary the sandbox already has.
 */
const FORWARDER = `'use strict';
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const argv = process.argv.slice(2);
const dir = argv[0];
const sep = argv.indexOf('--');
const ports = argv.slice(1, sep).map(Number);
const [command, ...args] = argv.slice(sep + 1);
let pending = ports.length;
function start() {
  const child = spawn(command, args, { stdio: 'inherit' });
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('error', (err) => { process.stderr.write('forwarder: ' + err.message + '\\n'); process.exit(127); });
  child.on('exit', (code, signal) => process.exit(code === null ? 128 + (signal === 'SIGKILL' ? 9 : 15) : code));
}
for (const port of ports) {
  const server = net.createServer((c) => {
    const u = net.connect(path.join(dir, port + '.sock'));
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  server.on('error', (err) => { process.stderr.write('forwarder: port ' + port + ': ' + err.message + '\\n'); process.exit(126); });
  server.listen(port, '127.0.0.1', () => { if (--pending === 0) start(); });
}
if (ports.length === 0) start();
`;

/**
 * Serves each `port → handler` on a Unix socket in a fresh folder. `sandboxUid` (a root runner
 * runs sandboxes as nobody) gets access to the folder and the sockets; nobody else does.
 */
export async function openBridge(o: {
  routes: Record<number, BridgeHandler>;
  sandboxUid?: number;
  parent?: string;
}): Promise<Bridge> {
  const dir = await mkdtemp(path.join(o.parent ?? os.tmpdir(), 'botburrow-bridge-'));
  await mkdir(dir, { recursive: true });
  const servers: http.Server[] = [];
  try {
    await writeFile(path.join(dir, 'forward.js'), FORWARDER, { mode: 0o644 });
    for (const [port, handler] of Object.entries(o.routes)) {
      const server = http.createServer(handler);
      // CLIs keep connections alive between calls; an idle one must not hold close() up.
      server.keepAliveTimeout = 5_000;
      const sock = path.join(dir, `${port}.sock`);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => resolve());
      });
      servers.push(server);
      // connect() needs write permission on the socket file; the folder's mode keeps others out.
      await chmod(sock, 0o666);
    }
    await chmod(dir, o.sandboxUid !== undefined ? 0o711 : 0o700);
  } catch (err) {
    await closeAll(servers);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const ports = Object.keys(o.routes);
  return {
    dir,
    wrap: (command, args) => ({
      command: process.execPath,
      args: [path.join(dir, 'forward.js'), dir, ...ports, '--', command, ...args],
    }),
    async close() {
      await closeAll(servers);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function closeAll(servers: http.Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    ),
  );
}
