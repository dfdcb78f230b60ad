/**
 * A stdio MCP transport that starts the server in its own process group with exactly the
 * environment it is given. The SDK's StdioClientTransport merges in part of the runner's
 * environment and signals only the direct child, which leaves the real server running when the
 * command is a wrapper (npx, sh); here close() ends the whole group.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { SandboxedCommand } from '../sandbox';

const STDERR_TAIL_BYTES = 4096;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ProcessGroupStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child?: ChildProcess;
  private readonly buffer = new ReadBuffer();
  private stderrTail = '';
  private exitInfo?: ProcessExit;
  private closing = false;

  constructor(
    private readonly params: SandboxedCommand & {
      /** How long close() waits after closing stdin before signalling the group. */
      graceMs?: number;
    },
  ) {}

  /** The last few KB the server wrote to stderr (its own explanation when it fails). */
  get stderr(): string {
    return this.stderrTail;
  }

  /** How the process ended, once it has. */
  get exit(): ProcessExit | undefined {
    return this.exitInfo;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('ProcessGroupStdioTransport already started');
    return new Promise((resolve, reject) => {
      const child = spawn(this.params.command, this.params.args, {
        cwd: this.params.cwd,
        env: this.params.env,
        uid: this.params.uid,
        gid: this.params.gid,
        detached: true,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      this.child = child;
      child.once('error', (err) => {
        reject(err);
        this.onerror?.(err);
      });
      child.once('spawn', () => resolve());
      child.stdout?.on('data', (chunk: Buffer) => {
        try {
          this.buffer.append(chunk);
        } catch (err) {
          // One message over the buffer limit: the server is misbehaving; end it so calls fail fast.
          this.onerror?.(err as Error);
          this.killGroup('SIGKILL');
          return;
        }
        for (;;) {
          let msg: JSONRPCMessage | null;
          try {
            msg = this.buffer.readMessage();
          } catch (err) {
            // A server printing non-protocol lines to stdout: report and keep reading.
            this.onerror?.(err as Error);
            continue;
          }
          if (msg === null) break;
          this.onmessage?.(msg);
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      });
      child.stdin?.on('error', (err) => this.onerror?.(err));
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        // Leftover members of the group would hold the pipes open and hide the exit.
        this.killGroup('SIGKILL');
      });
      child.once('close', () => {
        this.killGroup('SIGKILL');
        this.onclose?.();
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const stdin = this.child?.stdin;
      if (!stdin || this.exitInfo || stdin.destroyed) {
        reject(new Error('the MCP server process is not running'));
        return;
      }
      if (stdin.write(serializeMessage(message))) resolve();
      else stdin.once('drain', resolve);
    });
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const wait = (ms: number): Promise<void> =>
      Promise.race([closed, new Promise<void>((r) => setTimeout(r, ms).unref())]);
    // Servers exit on EOF; give them a moment to do so cleanly, then end the group.
    child.stdin?.end();
    await wait(this.params.graceMs ?? 500);
    this.killGroup('SIGTERM');
    await wait(500);
    this.killGroup('SIGKILL');
    await wait(500);
    this.buffer.clear();
  }
}
