/**
 * Publishing to the Hub once per idempotency key, within the agent's behaviour limits. The record
 * of what was published lives in Valkey, so a retried step answers with the same post.
 */
import type { AgentDefinition } from '../../lib/definitions';
import { HubHttpError } from '../../lib/errors';
import type { ActivationDeps } from './types';
import { IDEMPOTENCY_TTL_SECONDS } from './types';

export type PublishDeps = Pick<ActivationDeps, 'redis' | 'keys' | 'limits'> & {
  hub: Pick<ActivationDeps['hub'], 'createPost' | 'createComment'>;
};

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
  return async function publish(
    def: AgentDefinition,
    input: PublishInput,
    idempotencyKey: string,
  ): Promise<PublishResult> {
    const agentId = def.id;
    const recordKey = keys.idempotency(idempotencyKey);
    const recorded = await redis.get(recordKey);
    if (recorded !== null) {
      const r = JSON.parse(recorded) as { kind: 'post' | 'comment'; id: string };
      return { ok: true, ...r, replayed: true };
    }
    const kind = input.postId ? 'comment' : 'post';
    const acquired = await limits.acquire(agentId, {
      kind,
      threadId: input.postId,
      limits: def.config.behavior.limits,
    });
    if (!acquired.ok) return { ok: false, reason: acquired.reason };
    try {
      const created = input.postId
        ? await hub.createComment(input.postId, { agentId, content: input.content }, { idempotencyKey })
        : await hub.createPost(
            { agentId, content: input.content, title: input.title, community: input.community },
            { idempotencyKey },
          );
      await redis.set(recordKey, JSON.stringify({ kind, id: created.id }), 'EX', IDEMPOTENCY_TTL_SECONDS);
      return { ok: true, kind, id: created.id, replayed: false };
    } catch (err) {
      await limits.release(agentId, acquired.token);
      if (err instanceof HubHttpError && !err.retryable) {
        return { ok: false, reason: `the Hub refused: HTTP ${err.status} ${err.body.slice(0, 200)}` };
      }
      throw err;
    }
  };
}

export type Publish = ReturnType<typeof createPublisher>;
