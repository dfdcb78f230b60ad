/**
 * Skill sync activities: copy skills from configured sources into `skills/<name>/SKILL.md` of
 * the definitions store, checking each file first (lib/definitions/skill-checks.ts).
 *
 * Sources:
 * - a local folder (absolute or relative path, or `file://…`);
 * - `s3://bucket/prefix`, read through the deployment's S3 client;
 * - a GitHub repository (`github:owner/repo[/path]` or `https://github.com/owner/repo…`): recognised,
 *   and reported as unavailable, since this deployment has no route to GitHub.
 * Skills that disappear from a source are left in the store (sync never deletes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Logger } from '../lib/logger';
import { MAX_SKILL_BYTES, checkSkillFile } from '../lib/definitions/skill-checks';
import { listAllObjects, parseS3Url, readS3Text } from '../lib/definitions/store';
import type { DefinitionStore } from '../lib/definitions/store';

export interface SkillSyncDeps {
  /** The definitions store skills are copied into. */
  store: DefinitionStore;
  logger: Logger;
  /** Client for `s3://` sources; without it such sources are reported as unavailable. */
  s3?: S3Client;
  /** Sources used when a run names none (`BOTBURROW_SKILL_SYNC_SOURCES`). */
  defaultSources?: readonly string[];
}

/** A file that was not copied, and why. `source` is the file's location (or the source itself). */
export interface SkillRejection {
  source: string;
  reason: string;
}

export interface SyncSourceInput {
  source: string;
  /** Skill names already provided by earlier sources in this run → the source that provided them. */
  claimed?: Record<string, string>;
}

export interface SyncSourceResult {
  source: string;
  /** Skill names written because they were new or changed. */
  copied: string[];
  /** Skill names whose stored SKILL.md was already identical. */
  unchanged: string[];
  rejected: SkillRejection[];
}

/** One candidate file in a source: where it is, its size, and how to read it. */
interface Candidate {
  location: string;
  /** Path inside the source (used for the extension check and the README rule). */
  relative: string;
  size: number;
  read(): Promise<string>;
}

const GITHUB = /^(?:github:|https?:\/\/(?:www\.)?github\.com\/|git@github\.com:)/i;

/** Root-level repository files that are not skills. */
const NOT_SKILLS = /^(?:readme|license|licence|changelog|contributing)(?:\.[a-z]+)?$/i;

const PERMANENT = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'EACCES',
]);

function isPermanent(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return PERMANENT.has(e?.name ?? '') || PERMANENT.has(e?.code ?? '');
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Not inside an activity (direct calls from tests or scripts): nothing to report to.
  }
}

async function localCandidates(root: string): Promise<Candidate[]> {
  const out: Candidate[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue; // .git, editor files
      const relative = rel ? `${rel}/${e.name}` : e.name;
      const file = path.join(root, relative);
      if (e.isDirectory()) await walk(relative);
      else if (e.isFile()) {
        const { size } = await fs.stat(file);
        out.push({ location: file, relative, size, read: () => fs.readFile(file, 'utf8') });
      }
    }
  };
  await walk('');
  return out;
}

async function s3Candidates(client: S3Client, bucket: string, prefix: string): Promise<Candidate[]> {
  const objects = await listAllObjects(client, bucket, prefix, (count) => heartbeat({ listed: count }));
  const out: Candidate[] = [];
  for (const { key, size } of objects.sort((a, b) => a.key.localeCompare(b.key))) {
    const relative = key.slice(prefix.length);
    if (relative === '' || relative.endsWith('/') || relative.split('/').some((p) => p.startsWith('.')))
      continue;
    out.push({
      location: `s3://${bucket}/${key}`,
      relative,
      size,
      read: async () => (await readS3Text(client, bucket, key)) ?? '',
    });
  }
  return out;
}

/** The skill sync activities; `type SkillSyncActivities = ReturnType<typeof createSkillSyncActivities>`. */
export function createSkillSyncActivities(deps: SkillSyncDeps) {
  const logger = deps.logger.child({ component: 'skill-sync' });

  async function candidatesOf(source: string): Promise<Candidate[] | SkillRejection> {
    if (GITHUB.test(source)) {
      return {
        source,
        reason:
          'GitHub sources are unavailable: this deployment has no network route to GitHub (mirror the repository into a folder or bucket and list that instead)',
      };
    }
    const s3 = parseS3Url(source);
    if (s3) {
      if (!deps.s3)
        return { source, reason: 's3:// sources need BOTBURROW_R2_ENDPOINT (no S3 client configured)' };
      return s3Candidates(deps.s3, s3.bucket, s3.prefix);
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !source.startsWith('file://')) {
      return {
        source,
        reason: 'unknown source kind: use a folder path, s3://bucket/prefix or github:owner/repo',
      };
    }
    const dir = path.resolve(source.startsWith('file://') ? new URL(source).pathname : source);
    const stat = await fs.stat(dir).catch(() => undefined);
    if (!stat?.isDirectory()) return { source, reason: `folder ${dir} does not exist` };
    return localCandidates(dir);
  }

  return {
    /** The configured sources, for runs that name none (read at worker start, not per call). */
    skillSyncSources(): Promise<string[]> {
      return Promise.resolve([...(deps.defaultSources ?? [])]);
    },

    /**
     * Copies every valid skill of one source into the store. Bad files are rejected with a reason
     * and never stop the others; an unreachable source is one rejection. Store errors throw (and
     * are retried by Temporal).
     */
    async syncSkillSource(input: SyncSourceInput): Promise<SyncSourceResult> {
      const { source } = input;
      const result: SyncSourceResult = { source, copied: [], unchanged: [], rejected: [] };
      let candidates: Candidate[] | SkillRejection;
      try {
        candidates = await candidatesOf(source);
      } catch (err) {
        // A missing bucket or refused access will not heal by retrying: report it. Anything else
        // (network, throttling) is thrown, so Temporal retries the activity.
        if (!isPermanent(err)) throw err;
        candidates = { source, reason: `could not list source: ${(err as Error).message}` };
      }
      if (!Array.isArray(candidates)) {
        result.rejected.push(candidates);
        logger.warn(candidates, 'skill source rejected');
        return result;
      }
      const claimed = new Map(Object.entries(input.claimed ?? {}));
      for (const c of candidates) {
        heartbeat({ source, file: c.relative });
        if (!c.relative.includes('/') && NOT_SKILLS.test(c.relative)) continue;
        let text: string | undefined;
        if (c.size <= MAX_SKILL_BYTES && c.relative.toLowerCase().endsWith('.md')) {
          try {
            text = await c.read();
          } catch (err) {
            result.rejected.push({
              source: c.location,
              reason: `could not be read: ${(err as Error).message}`,
            });
            continue;
          }
        }
        const check = checkSkillFile(c.relative, c.size, text);
        if (!check.ok) {
          result.rejected.push({ source: c.location, reason: check.reason });
          continue;
        }
        const { name } = check.skill;
        const earlier = claimed.get(name);
        if (earlier !== undefined) {
          result.rejected.push({
            source: c.location,
            reason: `duplicate skill '${name}': already provided by ${earlier}`,
          });
          continue;
        }
        claimed.set(name, c.location);
        const key = `skills/${name}/SKILL.md`;
        if ((await deps.store.readText(key)) === text) {
          result.unchanged.push(name);
        } else {
          await deps.store.writeText(key, text!);
          result.copied.push(name);
        }
      }
      logger.info(
        {
          source,
          copied: result.copied.length,
          unchanged: result.unchanged.length,
          rejected: result.rejected.length,
        },
        'skill source synced',
      );
      return result;
    },
  };
}

export type SkillSyncActivities = ReturnType<typeof createSkillSyncActivities>;
