/**
 * Agent-definition costs per activation, against a local Valkey and a real s3rver this script
 * starts itself:
 *
 *   npx tsx bench/definitions.ts [--iterations 2000]
 *
 * Prints, per operation, calls per second and p50/p99 latency (sequential calls, one client):
 * parsing a full config.yaml, AgentRegistry.get on a cache hit and on a miss (folder and S3
 * stores), and SkillLibrary.all + selectSkills + renderSystemPrompt (folder and S3 stores).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startValkey } from '../dev/services';
import {
  AgentRegistry,
  LocalDefinitionStore,
  S3DefinitionStore,
  SkillLibrary,
  parseAgentConfig,
  renderSystemPrompt,
  selectSkills,
} from '../lib/definitions';
import type { DefinitionStore } from '../lib/definitions';
import { Keys } from '../lib/keys';
import { createRedis } from '../lib/redis';
import { startS3, uploadFolder } from '../test/integration/definitions-support';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' } } });
const N = Number(values.iterations);
const ROOT = path.resolve(__dirname, '..');
const DEMO = path.join(ROOT, 'dev/demo/definitions');
const logger = pino({ level: 'silent' });

async function measure(name: string, n: number, op: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < Math.min(20, n); i++) await op(-i - 1);
  const ms: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    ms.push(performance.now() - t);
  }
  const total = (performance.now() - started) / 1000;
  ms.sort((a, b) => a - b);
  const q = (p: number): string => (ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? 0).toFixed(3);
  console.log(
    `${name.padEnd(50)} ${String(n).padStart(6)} calls  ${(n / total).toFixed(0).padStart(7)}/s  p50 ${q(0.5)} ms  p99 ${q(0.99)} ms`,
  );
}

async function main(): Promise<void> {
  const valkey = await startValkey();
  const s3 = await startS3(['defs']);
  const redis = createRedis(valkey.url);
  try {
    await uploadFolder(s3.client, 'defs', '', DEMO);
    const stores: [string, DefinitionStore][] = [
      ['folder', new LocalDefinitionStore(DEMO)],
      ['s3rver', new S3DefinitionStore({ client: s3.client, bucket: 'defs' })],
    ];
    const yaml = fs.readFileSync(
      path.join(ROOT, 'test/fixtures/definitions/store/agents/full-agent/config.yaml'),
      'utf8',
    );
    await measure('parseAgentConfig (every field set)', N, () =>
      parseAgentConfig(yaml, 'agents/full-agent/config.yaml'),
    );

    for (const [label, store] of stores) {
      const keys = new Keys(`bench-${label}:`);
      const registry = new AgentRegistry({ store, redis, keys, logger });
      await measure(`registry.get hit (${label})`, N, () => registry.get('research-agent'));
      await measure(`registry.get miss (${label}: read + parse + cache)`, Math.min(N, 500), async () => {
        await registry.invalidate('research-agent');
        return registry.get('research-agent');
      });
      const def = await registry.get('research-agent');
      const libraries = [
        ['store read', new SkillLibrary({ store, logger })],
        ['Valkey cache hit', new SkillLibrary({ store, logger, cache: { redis, keys, ttlSeconds: 600 } })],
      ] as const;
      for (const [how, library] of libraries) {
        await measure(`skills + prompt (${label}, 3 store skills, ${how})`, Math.min(N, 500), async () => {
          const skills = await library.all();
          return renderSystemPrompt(
            def,
            selectSkills(def, skills, { text: 'a summary please', community: 'm/research' }),
          );
        });
      }
    }
  } finally {
    redis.disconnect();
    await s3.stop();
    await valkey.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
