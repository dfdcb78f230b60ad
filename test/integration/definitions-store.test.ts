/**
 * Both definition stores against real backends: a local folder and a real S3-protocol server
 * (s3rver): loading, missing prompts, listing past 1000 keys with continuation tokens, prefixes,
 * writes, and the store built from settings.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config';
import {
  LocalDefinitionStore,
  S3DefinitionStore,
  SkillLibrary,
  createDefinitionStore,
  listAgentIds,
  loadAgentDefinition,
} from '../../lib/definitions';
import type { DefinitionStore } from '../../lib/definitions';
import { FIXTURES, startS3, tempDir, uploadFolder } from './definitions-support';
import type { S3Server } from './definitions-support';

const STORE_FIXTURE = path.join(FIXTURES, 'definitions/store');
const logger = pino({ level: 'silent' });

let s3: S3Server;
let local: { dir: string; remove(): void };

beforeAll(async () => {
  s3 = await startS3(['defs', 'bulk']);
  await uploadFolder(s3.client, 'defs', 'team-a/', STORE_FIXTURE);
  // Another team's definitions in the same bucket: must stay invisible under the team-a prefix.
  await s3.client.send(
    new PutObjectCommand({
      Bucket: 'defs',
      Key: 'team-b/agents/other-agent/config.yaml',
      Body: 'name: other-agent',
    }),
  );
  local = tempDir('defs-local');
  fs.cpSync(STORE_FIXTURE, local.dir, { recursive: true });
});

afterAll(async () => {
  await s3?.stop();
  local?.remove();
});

const stores: [string, () => DefinitionStore][] = [
  ['local folder', () => new LocalDefinitionStore(local.dir)],
  ['s3rver bucket', () => new S3DefinitionStore({ client: s3.client, bucket: 'defs', prefix: 'team-a' })],
];

describe.each(stores)('%s', (_label, makeStore) => {
  it('lists the agents and loads them exactly as the fixture folder does', async () => {
    const store = makeStore();
    const reference = new LocalDefinitionStore(STORE_FIXTURE);
    const ids = await listAgentIds(store);
    expect(ids).toEqual(['full-agent', 'goose-agent', 'legacy-agent', 'minimal-agent', 'no-prompt-agent']);
    for (const id of ids) {
      expect(await loadAgentDefinition(store, id)).toEqual(await loadAgentDefinition(reference, id));
    }
  });

  it('gives an empty prompt when system-prompt.md is missing, null for missing keys', async () => {
    const store = makeStore();
    expect((await loadAgentDefinition(store, 'no-prompt-agent')).systemPrompt).toBe('');
    expect(await store.readText('agents/no-prompt-agent/system-prompt.md')).toBeNull();
    await expect(loadAgentDefinition(store, 'absent-agent')).rejects.toThrow(
      `agents/absent-agent/config.yaml: not found in ${store.describe()}`,
    );
  });

  it('writes and reads back text, and lists by prefix', async () => {
    const store = makeStore();
    await store.writeText(
      'skills/new-skill/SKILL.md',
      '---\nname: new-skill\ndescription: ünïcode ✓\n---\nbody',
    );
    expect(await store.readText('skills/new-skill/SKILL.md')).toContain('ünïcode ✓');
    expect(await store.list('skills/new-')).toEqual(['skills/new-skill/SKILL.md']);
    const skills = await new SkillLibrary({ store, logger }).all();
    expect(skills.map((s) => s.name)).toEqual([
      'github-issues',
      'haiku-writing',
      'hub-post',
      'hub-search',
      'new-skill',
    ]);
  });

  it('refuses keys that would leave the store', async () => {
    const store = makeStore();
    await expect(store.readText('../secrets')).rejects.toThrow('invalid definitions key');
    await expect(store.writeText('agents/../../x', 'x')).rejects.toThrow('invalid definitions key');
  });
});

describe('listing past 1000 keys', () => {
  const COUNT = 1003;
  const keyOf = (i: number): string => `agents/agent-${String(i).padStart(4, '0')}/config.yaml`;

  beforeAll(async () => {
    const local2 = new LocalDefinitionStore(path.join(local.dir, 'bulk'));
    const indices = Array.from({ length: COUNT }, (_, i) => i);
    for (let i = 0; i < COUNT; i += 200) {
      await Promise.all(
        indices
          .slice(i, i + 200)
          .map((n) =>
            s3.client.send(new PutObjectCommand({ Bucket: 'bulk', Key: `p/${keyOf(n)}`, Body: `n: ${n}` })),
          ),
      );
    }
    await Promise.all(indices.map((n) => local2.writeText(keyOf(n), `n: ${n}`)));
  });

  it('s3rver pages the listing (one request is not enough)', async () => {
    const page = await s3.client.send(new ListObjectsV2Command({ Bucket: 'bulk', Prefix: 'p/' }));
    expect(page.Contents?.length).toBe(1000);
    expect(page.IsTruncated).toBe(true);
  });

  it.each([
    [
      's3rver bucket',
      (): DefinitionStore => new S3DefinitionStore({ client: s3.client, bucket: 'bulk', prefix: 'p/' }),
    ],
    ['local folder', (): DefinitionStore => new LocalDefinitionStore(path.join(local.dir, 'bulk'))],
  ])('%s lists every key and every agent id', async (_label, makeStore) => {
    const store = makeStore();
    const keys = await store.list('agents/');
    expect(keys.length).toBe(COUNT);
    expect(new Set(keys).size).toBe(COUNT);
    expect(keys[0]).toBe(keyOf(0));
    expect(keys[COUNT - 1]).toBe(keyOf(COUNT - 1));
    expect((await listAgentIds(store)).length).toBe(COUNT);
  });
});

describe('createDefinitionStore from settings', () => {
  it('builds an S3 store from BOTBURROW_R2_* and a folder store by default', async () => {
    const settings = loadSettings({
      BOTBURROW_DEFINITIONS_STORE: 'r2',
      BOTBURROW_R2_ENDPOINT: s3.endpoint,
      BOTBURROW_R2_BUCKET: 'defs',
      BOTBURROW_R2_PREFIX: 'team-a/',
      BOTBURROW_R2_REGION: 'us-east-1',
      BOTBURROW_R2_ACCESS_KEY_ID: 'S3RVER',
      BOTBURROW_R2_SECRET_ACCESS_KEY: 'S3RVER',
    });
    const store = createDefinitionStore(settings);
    expect(store).toBeInstanceOf(S3DefinitionStore);
    expect(store.describe()).toBe('s3://defs/team-a/');
    expect((await loadAgentDefinition(store, 'full-agent')).config.display_name).toBe('Full Agent');

    const folder = createDefinitionStore(loadSettings({ BOTBURROW_AGENT_DEFINITIONS_PATH: local.dir }));
    expect(folder).toBeInstanceOf(LocalDefinitionStore);
    expect(await listAgentIds(folder)).toContain('minimal-agent');
  });
});
