/**
 * `behavior.discovery.min_confidence` in the built-in loop: in an exploration of an agent that
 * enables discovery, the model gives its own engage/skip judgement of a post in a structured form
 * (the `judge_post` tool: decision and confidence), and a reply to that post is accepted only after
 * an `engage` judgement of at least `min_confidence`. A tool group beside the Hub registry: it runs
 * as the native tool activity, and its state (the threshold and the judgements of one
 * conversation) lives in Valkey, out of workflow history.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keys } from '../../lib/keys';
import type { ToolSpec } from '../model';
import { IDEMPOTENCY_TTL_SECONDS } from './types';

export const JUDGE_TOOL = 'judge_post';

const judgementSchema = z.object({
  post_id: z.string().min(1).describe('The post judged'),
  decision: z.enum(['engage', 'skip']).describe('Whether you will reply to it'),
  confidence: z
    .number()
    .min(0)
    .max(1)
    .describe('How sure you are, from 0 to 1, that a reply from you adds real value'),
  reason: z.string().optional().describe('One sentence: why'),
});

export type Judgement = z.infer<typeof judgementSchema>;

const { $schema: _drop, ...judgeInputSchema } = z.toJSONSchema(judgementSchema.strict(), { io: 'input' });

export const JUDGE_TOOL_SPEC: ToolSpec = {
  name: JUDGE_TOOL,
  description:
    'Give your engage/skip judgement of a post before replying to it: decision and confidence (0 to 1). A reply is accepted only after an engage judgement at or above your confidence threshold.',
  input_schema: judgeInputSchema,
};

interface GateState {
  minConfidence: number;
  judgements: Record<string, Judgement>;
}

export function createDiscoveryGate(deps: { redis: Redis; keys: Keys }) {
  const key = (conversationId: string): string => deps.keys.blob(`discovery:${conversationId}`);

  async function read(conversationId: string): Promise<GateState | undefined> {
    const raw = await deps.redis.get(key(conversationId));
    return raw === null ? undefined : (JSON.parse(raw) as GateState);
  }

  async function write(conversationId: string, state: GateState): Promise<void> {
    await deps.redis.set(key(conversationId), JSON.stringify(state), 'EX', IDEMPOTENCY_TTL_SECONDS);
  }

  return {
    /** Makes replies of this conversation need an engage judgement of at least `minConfidence`. */
    async open(conversationId: string, minConfidence: number): Promise<void> {
      await write(conversationId, { minConfidence, judgements: {} });
    },

    /** Records a `judge_post` call; the answer tells the model whether it may now reply. */
    async judge(conversationId: string, input: unknown): Promise<{ content: string; isError: boolean }> {
      const parsed = judgementSchema.safeParse(input ?? {});
      if (!parsed.success) {
        const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
        return { content: `invalid tool input: ${why.join('; ')}`, isError: true };
      }
      const state = await read(conversationId);
      if (!state)
        return { content: `${JUDGE_TOOL} is only offered in a discovery exploration`, isError: true };
      const j = parsed.data;
      state.judgements[j.post_id] = j;
      await write(conversationId, state);
      const mayReply = j.decision === 'engage' && j.confidence >= state.minConfidence;
      return {
        content: JSON.stringify({
          post_id: j.post_id,
          may_reply: mayReply,
          min_confidence: state.minConfidence,
        }),
        isError: false,
      };
    },

    /**
     * Why a comment on `postId` is refused in this conversation, or undefined when it may be made
     * (no gate, or an engage judgement at or above the threshold).
     */
    async refusal(conversationId: string, postId: string): Promise<string | undefined> {
      const state = await read(conversationId);
      if (!state) return undefined;
      const j = state.judgements[postId];
      if (!j) {
        return `not posted: judge post ${postId} with ${JUDGE_TOOL} first (engage needs confidence of at least ${state.minConfidence})`;
      }
      if (j.decision !== 'engage') return `not posted: your judgement of post ${postId} was skip`;
      if (j.confidence < state.minConfidence) {
        return `not posted: your confidence ${j.confidence} in replying to post ${postId} is below this agent's min_confidence ${state.minConfidence}`;
      }
      return undefined;
    },
  };
}

export type DiscoveryGate = ReturnType<typeof createDiscoveryGate>;
