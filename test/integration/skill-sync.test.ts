/**
 * Skill sync on the real Temporal dev server: one `skillSyncWorkflow` run through a real worker
 * copies a fixture skill set (a folder and an s3rver bucket) into an s3rver definitions bucket and
 * rejects the bad files with reasons; the skill-sync process creates its Schedule (interval,
 * overlap SKIP), serves /ready, runs a sync on demand and on a schedule trigger, and stops on SIGTERM.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSkillSyncActivities } from '../../activities/skill-sync';
import { exportHistory } from '../../scripts/export-history';
import { freePort } from '../../dev/services';
import { SKILL_SYNC_SCHEDULE_ID, TaskQueue } from '../../lib/contract';
import { LocalDefinitionStore, S3DefinitionStore, SkillLibrary } from '../../lib/definitions';
import { ensureSkillSyncSchedule, runSkillSyncOnce } from '../../workers/skill-sync';
import type { SkillSyncResult } from '../../workflows/skill-sync';
import { services, unique } from '../support/env';
import { FIXTURES, startS3, tempDir, uploadFolder } from './definitions-support';
import type { S3Server } from './definitions-support';

const ROOT = path.resolve(__dirname, '../..');
const SOURCE_A = path.join(FIXTURES, 'skills/source-a');
const SOURCE_B = path.join(FIXTURES, 'skills/source-b');
const logger = pino({ level: 'silent' });
const BIG_SKILL = `---\nname: big\ndescription: too big\n---\n${'y'.repeat(200 * 1024)}\n`;

let connection: Connection;
let client: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: services().temporalAddress });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
});

describe('skillSyncWorkflow through a real worker', () => {
  let s3: S3Server;
  let sourceA: { dir: string; remove(): void };
  let bundle: { code: string };

  beforeAll(async () => {
    bundle = await bundleWorkflowCode({
      workflowsPath: path.resolve(__dirname, '../../workflows/skill-sync.ts'),
      logger: new DefaultLogger('WARN'),
    });
    s3 = await startS3(['defs', 'skill-src']);
    await uploadFolder(s3.client, 'skill-src', 'shared/', SOURCE_B);
    // Over the limit in the bucket too: its size comes from the listing, it is never downloaded.
    await s3.client.send(
      new PutObjectCommand({
        Bucket: 'skill-src',
        Key: 'shared/big/SKILL.md',
        Body: BIG_SKILL,
      }),
    );
    // The folder source: the fixture set plus one skill over the 100 KB limit.
    sourceA = tempDir('skill-src');
    fs.cpSync(SOURCE_A, sourceA.dir, { recursive: true });
    fs.mkdirSync(path.join(sourceA.dir, 'huge'));
    fs.writeFileSync(
      path.join(sourceA.dir, 'huge/SKILL.md'),
      `---\nname: huge\ndescription: too big\n---\n${'x'.repeat(101 * 1024)}\n`,
    );
  });
  afterAll(async () => {
    await s3?.stop();
    sourceA?.remove();
  });

  it('copies valid skills into the store, rejects the bad ones with reasons, then finds them unchanged', async () => {
    const store = new S3DefinitionStore({ client: s3.client, bucket: 'defs', prefix: 'prod' });
    const taskQueue = unique('skill-sync');
    const nativeConnection = await NativeConnection.connect({ address: services().temporalAddress });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createSkillSyncActivities({
        store,
        logger,
        s3: s3.client,
        defaultSources: [
          sourceA.dir,
          's3://skill-src/shared/',
          'github:botburrow/community-skills',
          's3://no-such-bucket/skills',
        ],
      }),
    });
    const firstId = unique('skill-sync-run');
    const [first, second] = await worker.runUntil(async () => {
      const a = await client.workflow.execute('skillSyncWorkflow', {
        taskQueue,
        workflowId: firstId,
        args: [{}],
      });
      const b = await runSkillSyncOnce(client, [sourceA.dir, 's3://skill-src/shared/'], {
        taskQueue,
        workflowId: unique('skill-sync-again'),
      });
      return [a as SkillSyncResult, b];
    });
    await nativeConnection.close();
    if (process.env.RECORD_HISTORIES === '1') {
      await exportHistory(client, firstId, path.resolve(__dirname, '../replay/histories/skill-sync.json'));
    }

    expect(first.sources).toEqual([
      sourceA.dir,
      's3://skill-src/shared/',
      'github:botburrow/community-skills',
      's3://no-such-bucket/skills',
    ]);
    expect(first.copied).toBe(3);
    expect(first.unchanged).toBe(0);
    expect(first.skills).toEqual(['cite-sources', 'summarize', 'weather-report']);
    const reasons = Object.fromEntries(
      first.rejected.map((r) => [r.source.replace(sourceA.dir, 'A'), r.reason]),
    );
    expect(reasons).toEqual({
      'A/bad-frontmatter/SKILL.md': 'bad-frontmatter/SKILL.md: description: is required',
      'A/eval-skill/SKILL.md': 'blocked content: uses eval(',
      'A/huge/SKILL.md': `${fs.statSync(path.join(sourceA.dir, 'huge/SKILL.md')).size} bytes is larger than the 102400-byte limit (100 KB)`,
      'A/no-frontmatter/SKILL.md':
        'no-frontmatter/SKILL.md: must start with YAML frontmatter between --- lines',
      'A/notes.txt': "extension '.txt' not allowed: skills are .md files",
      'A/obfuscated/SKILL.md': 'blocked content: executes base64-decoded code (base64 -d | sh)',
      'A/remote-installer/SKILL.md': 'blocked content: downloads and pipes into a shell (curl … | sh)',
      'A/unknown-field/SKILL.md': 'unknown-field/SKILL.md: permissions: unknown field',
      'A/wipe-disk/SKILL.md': 'blocked content: recursive delete of / or ~ (rm -rf /)',
      's3://skill-src/shared/big/SKILL.md': `${Buffer.byteLength(BIG_SKILL)} bytes is larger than the 102400-byte limit (100 KB)`,
      's3://skill-src/shared/summarize/SKILL.md': `duplicate skill 'summarize': already provided by ${sourceA.dir}`,
      's3://no-such-bucket/skills': 'could not list source: The specified bucket does not exist',
      'github:botburrow/community-skills':
        'GitHub sources are unavailable: this deployment has no network route to GitHub (mirror the repository into a folder or bucket and list that instead)',
    });

    // The store now holds exactly the valid skills, byte for byte, under skills/<name>/SKILL.md.
    expect(await store.list('skills/')).toEqual([
      'skills/cite-sources/SKILL.md',
      'skills/summarize/SKILL.md',
      'skills/weather-report/SKILL.md',
    ]);
    expect(await store.readText('skills/summarize/SKILL.md')).toBe(
      fs.readFileSync(path.join(SOURCE_A, 'summarize/SKILL.md'), 'utf8'),
    );
    expect(await store.readText('skills/weather-report/SKILL.md')).toBe(
      fs.readFileSync(path.join(SOURCE_B, 'weather-report/SKILL.md'), 'utf8'),
    );
    const library = await new SkillLibrary({ store, logger }).all();
    expect(library.map((s) => s.name)).toEqual([
      'cite-sources',
      'hub-post',
      'hub-search',
      'summarize',
      'weather-report',
    ]);

    expect(second.copied).toBe(0);
    expect(second.unchanged).toBe(3);
    expect(second.rejected.length).toBe(11);
  });

  it('reports a source whose copy cannot be written (target bucket missing) without retrying it', async () => {
    const store = new S3DefinitionStore({ client: s3.client, bucket: 'no-such-target' });
    const taskQueue = unique('skill-sync-fail');
    const nativeConnection = await NativeConnection.connect({ address: services().temporalAddress });
    const worker = await Worker.create({
      connection: nativeConnection,
      taskQueue,
      workflowBundle: bundle,
      activities: createSkillSyncActivities({ store, logger, s3: s3.client }),
    });
    const workflowId = unique('skill-sync-fail');
    const result = await worker.runUntil(
      runSkillSyncOnce(client, [SOURCE_B, 's3://skill-src/shared/'], { taskQueue, workflowId }),
    );
    await nativeConnection.close();
    expect(result.copied).toBe(0);
    expect(result.rejected).toEqual([
      { source: SOURCE_B, reason: 'sync failed: The specified bucket does not exist' },
      { source: 's3://skill-src/shared/', reason: 'sync failed: The specified bucket does not exist' },
    ]);
    // Non-retryable: each activity ran once (the started event records the last attempt).
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : [],
    );
    expect(attempts).toEqual([1, 1]);
  });
});

describe('skill-sync schedule', () => {
  it('creates the schedule, then updates it in place', async () => {
    const scheduleId = unique('skill-sync-schedule');
    try {
      expect(await ensureSkillSyncSchedule(client, { scheduleId, intervalSeconds: 3600 })).toBe('created');
      expect(await ensureSkillSyncSchedule(client, { scheduleId, intervalSeconds: 900 })).toBe('updated');
      const d = await client.schedule.getHandle(scheduleId).describe();
      expect(d.spec.intervals?.map((i) => i.every)).toEqual([900_000]);
      expect(d.policies.overlap).toBe('SKIP');
      expect(d.action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'skillSyncWorkflow',
        taskQueue: TaskQueue.maintenance,
      });
    } finally {
      await client.schedule.getHandle(scheduleId).delete();
    }
  });
});

describe('the skill-sync process', () => {
  it('creates its schedule, is ready, syncs on demand and on trigger, and stops on SIGTERM', async () => {
    const defs = tempDir('skill-sync-process');
    const port = await freePort();
    const handle = client.schedule.getHandle(SKILL_SYNC_SCHEDULE_ID);
    await handle.delete().catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
    const child = spawn(
      path.join(ROOT, 'dev/watchdog.sh'),
      [process.execPath, '--import', 'tsx', path.join(ROOT, 'workers/skill-sync.ts')],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH,
          TEMPORAL_ADDRESS: services().temporalAddress,
          BOTBURROW_METRICS_PORT: String(port),
          BOTBURROW_AGENT_DEFINITIONS_PATH: defs.dir,
          BOTBURROW_SKILL_SYNC_SOURCES: SOURCE_B,
          BOTBURROW_SKILL_SYNC_INTERVAL: '7200',
          BOTBURROW_LOG_LEVEL: 'info',
        },
      },
    );
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // Ready once the worker runs and Temporal answers (the workflow bundle takes a few seconds).
      const deadline = Date.now() + 90_000;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await fetch(`http://127.0.0.1:${port}/ready`)
          .then((r) => r.status === 200)
          .catch(() => false);
        if (!ready) await new Promise((r) => setTimeout(r, 250));
      }
      expect(ready, stderr).toBe(true);

      const d = await handle.describe();
      expect(d.spec.intervals?.map((i) => i.every)).toEqual([7_200_000]);
      expect(d.policies.overlap).toBe('SKIP');
      expect(d.action).toMatchObject({
        type: 'startWorkflow',
        workflowType: 'skillSyncWorkflow',
        taskQueue: 'botburrow-maintenance',
      });

      const once = await runSkillSyncOnce(client);
      expect(once).toMatchObject({ sources: [SOURCE_B], copied: 2, unchanged: 0, rejected: [] });
      const local = new LocalDefinitionStore(defs.dir);
      expect(await local.list('skills/')).toEqual([
        'skills/summarize/SKILL.md',
        'skills/weather-report/SKILL.md',
      ]);

      await handle.trigger();
      let runId: { workflowId: string; firstExecutionRunId: string } | undefined;
      while (!runId && Date.now() < deadline) {
        runId = (await handle.describe()).info.recentActions[0]?.action.workflow;
        if (!runId) await new Promise((r) => setTimeout(r, 200));
      }
      const scheduled = (await client.workflow
        .getHandle(runId!.workflowId, runId!.firstExecutionRunId)
        .result()) as SkillSyncResult;
      expect(scheduled).toMatchObject({ copied: 0, unchanged: 2, skills: ['summarize', 'weather-report'] });

      child.kill('SIGTERM');
      const code = await exited;
      // The worker drained and main() returned: this line is logged after worker.run() resolves.
      expect(stdout).toContain('"msg":"skill-sync worker stopped"');
      // Node exits 0; dev/watchdog.sh may report its own trapped SIGTERM (143) when the child
      // finishes before the watchdog's second wait, so both mean a clean stop here.
      expect([0, 143], stderr).toContain(code);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await handle.delete().catch(() => undefined);
      defs.remove();
    }
  });
});
