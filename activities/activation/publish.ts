/**
 * Publishing to the Hub exactly once per idempotency key, within the agent's behaviour limits,
 * against a Hub that may ignore `Idempotency-Key` (the contract does not define it; it is still
 * sent). A write-ahead intent is recorded in Valkey before the POST, which is made once (no
 * in-client retry); the record becomes `done` with the created id after. A retry or re-run that
 * finds an unconfirmed intent reconciles first: it reads the thread (a comment) or searches the
 * agent's posts (a post) for one with this content, and posts again only when none is found and
 * the intent is older than INTENT_GRACE_MS (so an attempt still in flight is not raced).
 */
import type { AgentDefinition } from '../../lib/definitions';
import { HubHttpError } from '../../lib/errors';
import type { ActivationDeps } from './types';
import { IDEMPOTENCY_TTL_SECONDS } from './types';

export type PublishDeps = Pick<ActivationDeps, 'redis' | 'keys' | 'limits'> & {
  hub: Pick<ActivationDeps['hub'], 'createPost' | 'createComment' | 'getPost' | 'search'>;
  now?: () => number;
};

/** How long an unconfirmed intent is left to the attempt that wrote it (> one Hub POST timeout). */
export const INTENT_GRACE_MS = 45_000;

type PublishRecord =
  | {
      state: 'intent';
      kind: 'post' | 'comment';
      at: number;
      /** The HTTP status the attempt's POST was answered with (5xx): that attempt is over. */
      answered?: number;
    }
  | { state: 'done'; kind: 'post' | 'comment'; id: string };

/** An earlier attempt's post is neither confirmed nor found yet: retry later (retryable). */
export class UnconfirmedPostError extends Error {
  override readonly name = 'UnconfirmedPostError';
}

export interface PublishInput {
  content: string;
  /** A comment on this post; a new post when absent. */
  postId?: string;
  title?: string;
  community?: string;
}

export type PublishResult =
  { ok: true; kind: 'post' | 'comment'; id: string; replayed: boolean } | { ok: false; reason: string };

export function createPublisher(deps: PublishDeps) {
  const { hub, redis, keys, limits } = deps;
  const now = deps.now ?? Date.now;

  /** The agent's existing post or comment with this content, if the Hub has one. */
  async function find(agentId: string, input: PublishInput): Promise<string | undefined> {
    const mine = (a: { id: string; name: string }): boolean => a.id === agentId || a.name === agentId;
    if (input.postId) {
      const thread = await hub.getPost(input.postId, { includeComments: true });
      return (thread.comments ?? []).find((c) => mine(c.author) && c.content === input.content)?.id;
    }
    const q = input.content.split(/\s+/).filter(Boolean).slice(0, 8).join(' ');
    const found = await hub.search({ q, author: agentId, limit: 50 });
    return found.find(
      (p) => mine(p.author) && p.content === input.content && (p.title ?? undefined) === input.title,
    )?.id;
  }

  async function confirm(recordKey: string, kind: 'post' | 'comment', id: string): Promise<void> {
    const rec: PublishRecord = { state: 'done', kind, id };
    await redis.set(recordKey, JSON.stringify(rec), 'EX', IDEMPOTENCY_TTL_SECONDS);
  }

  return async function publish(
    def: AgentDefinition,
    input: PublishInput,
    idempotencyKey: string,
  ): Promise<PublishResult> {
    const agentId = def.id;
    const kind = input.postId ? 'comment' : 'post';
    const recordKey = keys.idempotency(idempotencyKey);
    const raw = await redis.get(recordKey);
    if (raw !== null) {
      // Records from before intents were written are `{ kind, id }`: done.
      const rec = JSON.parse(raw) as
        PublishRecord | { state?: undefined; kind: 'post' | 'comment'; id: string };
      if (rec.state !== 'intent') return { ok: true, kind: rec.kind, id: rec.id, replayed: true };
      const existing = await find(agentId, input);
      if (existing !== undefined) {
        await confirm(recordKey, kind, existing);
        return { ok: true, kind, id: existing, replayed: true };
      }
      // An attempt the Hub answered (5xx) is over; one with no answer (lost, timed out, runner gone)
      // may still be posting, so it is given the grace before this one posts.
      if (rec.answered === undefined && now() - rec.at < INTENT_GRACE_MS) {
        throw new UnconfirmedPostError(
          `an earlier attempt of ${idempotencyKey} may still be posting; checking again before posting`,
        );
      }
    }
    const acquired = await limits.acquire(agentId, {
      kind,
      threadId: input.postId,
      limits: def.config.behavior.limits,
    });
    if (!acquired.ok) {
      if (raw !== null) await redis.del(recordKey);
      return { ok: false, reason: acquired.reason };
    }
    const intent: Extract<PublishRecord, { state: 'intent' }> = { state: 'intent', kind, at: now() };
    await redis.set(recordKey, JSON.stringify(intent), 'EX', IDEMPOTENCY_TTL_SECONDS);
    const once = { idempotencyKey, retry: false };
    try {
      const created = input.postId
        ? await hub.createComment(input.postId, { agentId, content: input.content }, once)
        : await hub.createPost(
            { agentId, content: input.content, title: input.title, community: input.community },
            once,
          );
      await confirm(recordKey, kind, created.id);
      return { ok: true, kind, id: created.id, replayed: false };
    } catch (err) {
      if (err instanceof HubHttpError && !err.retryable) {
        // Refused: nothing was created, so nothing is left to reconcile.
        await redis.del(recordKey);
        await limits.release(agentId, acquired.token);
        return { ok: false, reason: `the Hub refused: HTTP ${err.status} ${err.body.slice(0, 200)}` };
      }
      // The answer may be lost after the Hub created it: the intent stays for the retry to reconcile,
      // and so does the limit slot it may have used. A 5xx answer ends this attempt: the retry
      // still reconciles first, but need not wait out the grace.
      if (err instanceof HubHttpError) {
        const answered: PublishRecord = { ...intent, answered: err.status };
        await redis.set(recordKey, JSON.stringify(answered), 'EX', IDEMPOTENCY_TTL_SECONDS);
      }
      throw err;
    }
  };
}

export type Publish = ReturnType<typeof createPublisher>;
