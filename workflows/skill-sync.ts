/**
 * `skillSyncWorkflow` (task queue `botburrow-maintenance`): copies skills from each source into
 * the definitions store, one activity per source so a slow or failing source is retried on its
 * own, and reports what was copied, unchanged and rejected. Run hourly by the
 * `botburrow-skill-sync` Schedule (overlap: skip) and on demand by the CLI.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { SkillRejection, SkillSyncActivities } from '../activities/skill-sync';

export interface SkillSyncInput {
  /** Sources to read; omitted → the worker's configured `BOTBURROW_SKILL_SYNC_SOURCES`. */
  sources?: string[];
}

export interface SkillSyncResult {
  sources: string[];
  /** Number of skills written (new or changed). */
  copied: number;
  /** Number of skills already identical in the store. */
  unchanged: number;
  rejected: SkillRejection[];
  /** Names of the skills copied or unchanged, i.e. present in the store from this run. */
  skills: string[];
}

const { skillSyncSources } = proxyActivities<SkillSyncActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
});

// Reading a source (a folder or a bucket listing plus one read per file) can take a while: the
// activity heartbeats per file, so a stuck read is noticed within a minute.
const { syncSkillSource } = proxyActivities<SkillSyncActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    maximumInterval: '1 minute',
    maximumAttempts: 4,
    // The definitions bucket is missing or refuses us: retrying cannot help.
    nonRetryableErrorTypes: ['NoSuchBucket', 'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch'],
  },
});

function failureReason(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Syncs every source in order; a skill name provided by an earlier source is not overwritten. */
export async function skillSyncWorkflow(input: SkillSyncInput = {}): Promise<SkillSyncResult> {
  const sources = input.sources ?? (await skillSyncSources());
  if (!Array.isArray(sources))
    throw ApplicationFailure.nonRetryable('sources must be a list', 'PayloadError');
  const result: SkillSyncResult = { sources, copied: 0, unchanged: 0, rejected: [], skills: [] };
  const claimed: Record<string, string> = {};
  for (const source of sources) {
    try {
      const r = await syncSkillSource({ source, claimed: { ...claimed } });
      result.copied += r.copied.length;
      result.unchanged += r.unchanged.length;
      result.rejected.push(...r.rejected);
      for (const name of [...r.copied, ...r.unchanged]) {
        claimed[name] = source;
        result.skills.push(name);
      }
    } catch (err) {
      // Retries are exhausted: report the source and carry on with the others.
      result.rejected.push({ source, reason: `sync failed: ${failureReason(err)}` });
    }
  }
  result.skills.sort();
  return result;
}
