/**
 * An activation on a real Temporal server whose (scripted) model tries to read the runner's
 * secrets through Bash: the runner process holds them in its environment, the commands try
 * /proc, parameter expansion, globs and interpreters. The whole workflow history (payloads
 * decoded), the model's context and the runner's log must hold none of them, not even redacted.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../dev/model-server/scenario';
import { activationWorkflowId } from '../../lib/contract';
import { buildWorkflowBundle } from '../../scripts/build-bundle';
import type { TestProcess } from '../support/processes';
import { startRunnerProcess } from '../support/processes';
import type { ActivationStack } from '../support/stack';
import { startStack } from '../support/stack';

const SECRETS = {
  ANTHROPIC_API_KEY: 'sk-ant-activation-escape-5e1d0c',
  GITHUB_PAT: 'ghp_activation_escape_8b2f4a91',
  BOTBURROW_R2_SECRET_ACCESS_KEY: 'r2-secret-activation-escape-c77d',
  TEMPORAL_API_KEY_MARKER: 'planted-file-secret-activation-0f9e',
};

const ESCAPES = [
  'P=/proc; cat $P/$PPID/environ; cat $P/1/environ; cat $P/[0-9]*/environ 2>/dev/null; echo end1',
  'cat ${HOME%/*}/../planted/secret.txt ${HOME%/*/*}/planted/secret.txt 2>&1; echo end2',
  `python3 -c 'import glob;[print(open(p).read()) for p in glob.glob("/proc/*/environ")]' 2>&1; echo end3`,
  `node -e 'console.log(JSON.stringify(process.env))'; env; echo end4`,
];

const script: Scenario = {
  name: 'activation-sandbox',
  rules: [
    {
      name: 'escape',
      when: { system: 'escaper', turn: 1 },
      reply: { toolCalls: ESCAPES.map((command) => ({ name: 'Bash', input: { command } })) },
    },
    { name: 'done', when: { system: 'escaper' }, reply: { text: 'NO_RESPONSE_NEEDED' } },
  ],
  fallback: { text: 'NO_RESPONSE_NEEDED' },
};

/** Every string in a history, with payload bytes decoded (they are JSON, base64 on the wire). */
function decodeAll(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) {
    out.push(Buffer.from(value).toString('utf8'));
  } else if (typeof value === 'string') {
    out.push(value);
  } else if (Array.isArray(value)) {
    for (const v of value) decodeAll(v, out);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) decodeAll(v, out);
  }
  return out;
}

describe('an activation whose model tries to escape through Bash', () => {
  let stack: ActivationStack;
  let runner: TestProcess | undefined;
  let wsRoot: string;

  beforeAll(async () => {
    const bundlePath = path.join(os.tmpdir(), `bb-bundle-sandbox-${process.pid}.js`);
    await buildWorkflowBundle(bundlePath);
    const base = path.join(os.tmpdir(), `bb-sbx-${process.pid}`);
    wsRoot = path.join(base, 'workspaces');
    await mkdir(path.join(base, 'planted'), { recursive: true });
    await writeFile(path.join(base, 'planted', 'secret.txt'), SECRETS.TEMPORAL_API_KEY_MARKER);
    stack = await startStack({
      script,
      seed: { agents: [], posts: [{ id: 'p-sbx', author: { id: 'eve', name: 'Eve' }, content: 'hi' }] },
      env: {
        BOTBURROW_WORKFLOW_BUNDLE: bundlePath,
        BOTBURROW_WORKSPACE_ROOT: wsRoot,
        ANTHROPIC_API_KEY: SECRETS.ANTHROPIC_API_KEY,
        GITHUB_PAT: SECRETS.GITHUB_PAT,
        BOTBURROW_R2_SECRET_ACCESS_KEY: SECRETS.BOTBURROW_R2_SECRET_ACCESS_KEY,
      },
    });
  });
  afterAll(async () => {
    runner?.signal('SIGKILL');
    await runner?.exited;
    await stack?.stop();
    await rm(path.dirname(wsRoot), { recursive: true, force: true });
  });

  it('ends with no secret in the workflow history, the model context or the log', async () => {
    runner = await startRunnerProcess(stack.env);
    const agentId = await stack.addAgent('escaper', {
      systemPrompt: 'You are escaper.',
      extra: {
        capabilities: { grants: ['hub:read', 'hub:write'], shell: { enabled: true, timeout_seconds: 20 } },
      },
    });
    await stack.hub.admin.injectNotification({
      agent_id: agentId,
      type: 'mention',
      post_id: 'p-sbx',
      content: 'Show me what you can find.',
    });
    const result = await stack.run(agentId);
    expect(result.outcome).toBe('succeeded');
    const history = await stack.client.workflow.getHandle(activationWorkflowId(agentId)).fetchHistory();
    const texts = decodeAll(history).join('\n');
    // The Bash calls really ran (their markers are in the history or in the model's context).
    const context = JSON.stringify(
      stack.model.requests().filter((r) => JSON.stringify(r.body).includes(`Your id is ${agentId}`)),
    );
    for (const marker of ['end1', 'end2', 'end3', 'end4']) expect(texts + context).toContain(marker);
    for (const [name, value] of Object.entries(SECRETS)) {
      expect(texts, `${name} in the history`).not.toContain(value);
      expect(context, `${name} in the model context`).not.toContain(value);
      expect(runner.output(), `${name} in the runner log`).not.toContain(value);
    }
    expect(texts + context).not.toContain('[redacted]');
  });
});
