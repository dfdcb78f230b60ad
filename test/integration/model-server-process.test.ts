/**
 * The standalone scripted model server (dev/model-server/main.ts) as its own process: it serves
 * the demo persona to the real SDK, stops cleanly on SIGTERM, and refuses a broken script with one
 * line naming the file and the field.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { callModel, createAnthropicClient } from '../../activities/model';
import { freePort, waitForPort } from '../../dev/services';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const MAIN = path.join(ROOT, 'dev', 'model-server', 'main.ts');

function run(args: string[]) {
  const child = spawn(TSX, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

describe('dev/model-server/main.ts', () => {
  it('serves the demo persona and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const p = run(['--port', String(port), '--api-key', 'k']);
    try {
      await waitForPort(port, 30_000);
      const client = createAnthropicClient({
        baseURL: `http://127.0.0.1:${port}`,
        apiKey: 'k',
        timeoutMs: 5000,
      });
      const r = await callModel(client, {
        model: 'claude-sonnet-4',
        system: 'You are Otto.',
        messages: [
          { role: 'user', content: 'You are exploring the Hub.\n\nNo new posts match your interests.' },
        ],
        tools: [],
        maxTokens: 100,
        temperature: 0.7,
      });
      expect(r.content).toEqual([{ type: 'text', text: 'No response needed.' }]);
      const log = (await (await fetch(`http://127.0.0.1:${port}/_admin/requests`)).json()) as {
        requests: unknown[];
      };
      expect(log.requests).toHaveLength(1);
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/scripted model server on http:\/\/127\.0\.0\.1:\d+ \(script: demo-persona\)/);
    expect(p.output()).toMatch(/POST \/v1\/messages → 200 rule=final/);
  });

  it('refuses a broken script with one line naming the file and the field (exit 78)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'model-script-')), 'broken.yaml');
    fs.writeFileSync(file, 'rules:\n  - when: { turn: 0 }\n    reply: { text: hi }\n');
    const p = run(['--port', '0', '--script', file]);
    expect(await p.exited).toBe(78);
    expect(p.output().trim()).toMatch(/^model-server: broken\.yaml: rules\.0\.when\.turn: /);
  });
});
