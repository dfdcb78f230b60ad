/**
 * Conversation transcripts kept in Valkey rather than in workflow history (claim check), so that an
 * activation's history grows with the number of steps, not with the size of what was said.
 *
 * A conversation has a setup (system prompt, tool specs, model settings) and numbered turns. Turn i
 * holds the user blocks sent at step i and the assistant's answer. Writing turn i is idempotent, so
 * an activity retry overwrites rather than appends.
 *
 * What this process wrote is also kept in memory for the next steps of the same run, which mostly
 * run here: the setup (never changed once written) and each conversation's latest turn (used only
 * when it holds the tool call asked for: a tool-use id names one model answer).
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../lib/keys';
import type { ModelProvider } from '../lib/pricing';
import type { MemoryContext } from './memory/remember';
import type { ModelContent, ToolSpec } from './model';

/** How long transcripts are kept after their last write (for debugging and replays of stuck runs). */
const TRANSCRIPT_TTL_SECONDS = 3 * 24 * 3600;
/** Tool output above this size is stored as a blob; history carries only a preview and a key. */
export const INLINE_TOOL_OUTPUT_LIMIT = 2_000;
/** Longest tool output ever given back to the model. */
export const MAX_TOOL_OUTPUT_TO_MODEL = 100_000;

export interface ConversationSetup {
  agentId: string;
  /** `brain.provider`; absent in setups from before providers: anthropic. */
  provider?: ModelProvider;
  /** `brain.api_base`, checked against the runner's allow-list at each call. */
  apiBase?: string;
  /** `brain.api_key_env`: the NAME of the runner variable holding the key, never the key. */
  apiKeyEnv?: string;
  model: string;
  system: string;
  tools: ToolSpec[];
  maxTokens: number;
  temperature: number;
  /** The user blocks of turn 0 (the prompt that opens the conversation). */
  opening: UserBlock[];
  /** What the conversation is about, for what it leaves in memory (agents with memory only). */
  memory?: MemoryContext;
}

/** A tool result as the workflow sees it: small, with the full output behind `blobKey`. */
export interface ToolResultRef {
  toolUseId: string;
  isError: boolean;
  preview: string;
  blobKey?: string;
}

/** User content blocks of a turn, in the Messages API shape. */
export type UserBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };

export interface Turn {
  user: UserBlock[];
  assistant: ModelContent[];
}

function conversationKey(keys: Keys, id: string, part: 'setup' | 'turns' | 'cli'): string {
  return keys.blob(`conv:${id}:${part}`);
}

/** A map that forgets its least recently used entries beyond `max`. */
class Recent<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, v: V): void {
    this.entries.delete(key);
    this.entries.set(key, v);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
}

/** Conversations remembered in memory (about one per activation in flight). */
const REMEMBERED_CONVERSATIONS = 2048;

export class ConversationStore {
  private readonly setups = new Recent<ConversationSetup>(REMEMBERED_CONVERSATIONS);
  private readonly latestTurns = new Recent<{ index: number; turn: Turn }>(REMEMBERED_CONVERSATIONS);

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async saveSetup(id: string, setup: ConversationSetup): Promise<void> {
    await this.redis.set(
      conversationKey(this.keys, id, 'setup'),
      JSON.stringify(setup),
      'EX',
      TRANSCRIPT_TTL_SECONDS,
    );
    this.setups.set(id, setup);
  }

  async setup(id: string): Promise<ConversationSetup> {
    const known = this.setups.get(id);
    if (known) return known;
    const raw = await this.redis.get(conversationKey(this.keys, id, 'setup'));
    if (raw === null) throw new Error(`conversation ${id} has no setup (expired or never started)`);
    const setup = JSON.parse(raw) as ConversationSetup;
    this.setups.set(id, setup);
    return setup;
  }

  /** A coding CLI's run: its streamed events, kept beside the loop's transcripts, never in history. */
  async saveCliTranscript(id: string, run: { executor: string; events: unknown[] }): Promise<void> {
    await this.redis.set(
      conversationKey(this.keys, id, 'cli'),
      JSON.stringify(run),
      'EX',
      TRANSCRIPT_TTL_SECONDS,
    );
  }

  async cliTranscript(id: string): Promise<{ executor: string; events: unknown[] } | null> {
    const raw = await this.redis.get(conversationKey(this.keys, id, 'cli'));
    return raw === null ? null : (JSON.parse(raw) as { executor: string; events: unknown[] });
  }

  /** Turns 0..before-1 in order. */
  async turns(id: string, before: number): Promise<Turn[]> {
    if (before <= 0) return [];
    const fields = Array.from({ length: before }, (_, i) => String(i));
    const raw = await this.redis.hmget(conversationKey(this.keys, id, 'turns'), ...fields);
    return raw.map((r, i) => {
      if (r === null) throw new Error(`conversation ${id} is missing turn ${i}`);
      return JSON.parse(r) as Turn;
    });
  }

  /**
   * Writes turn `index`. The first turn gives the transcript its TTL (in the same round trip); a
   * run ends long before it, so later turns need not renew it.
   */
  async saveTurn(id: string, index: number, turn: Turn): Promise<void> {
    const key = conversationKey(this.keys, id, 'turns');
    const value = JSON.stringify(turn);
    if (index === 0) {
      const replies = await this.redis
        .pipeline()
        .hset(key, String(index), value)
        .expire(key, TRANSCRIPT_TTL_SECONDS)
        .exec();
      const failed = replies?.find(([err]) => err !== null)?.[0];
      if (failed) throw failed;
    } else {
      await this.redis.hset(key, String(index), value);
    }
    this.latestTurns.set(id, { index, turn });
  }

  /** The `tool_use` block with this id in turn `index`, or undefined. */
  async toolUse(
    id: string,
    index: number,
    toolUseId: string,
  ): Promise<Extract<ModelContent, { type: 'tool_use' }> | undefined> {
    const find = (turn: Turn) =>
      turn.assistant.find(
        (b): b is Extract<ModelContent, { type: 'tool_use' }> => b.type === 'tool_use' && b.id === toolUseId,
      );
    const latest = this.latestTurns.get(id);
    const known = latest?.index === index ? find(latest.turn) : undefined;
    if (known) return known;
    const raw = await this.redis.hget(conversationKey(this.keys, id, 'turns'), String(index));
    if (raw === null) return undefined;
    return find(JSON.parse(raw) as Turn);
  }

  /** Stores tool output and returns the reference the workflow keeps. */
  async storeToolOutput(
    id: string,
    toolUseId: string,
    content: string,
    isError: boolean,
  ): Promise<ToolResultRef> {
    if (content.length <= INLINE_TOOL_OUTPUT_LIMIT) return { toolUseId, isError, preview: content };
    const blobKey = this.keys.blob(`conv:${id}:tool:${toolUseId}`);
    await this.redis.set(blobKey, content.slice(0, MAX_TOOL_OUTPUT_TO_MODEL), 'EX', TRANSCRIPT_TTL_SECONDS);
    const preview = `${content.slice(0, 500)}… [${content.length} characters in total]`;
    return { toolUseId, isError, preview, blobKey };
  }

  /**
   * Stores tool output as a blob whatever its size: the workflow keeps only `summary` (memory
   * content never enters history).
   */
  async storeOutsideHistory(
    id: string,
    toolUseId: string,
    content: string,
    isError: boolean,
    summary: string,
  ): Promise<ToolResultRef> {
    const blobKey = this.keys.blob(`conv:${id}:tool:${toolUseId}`);
    await this.redis.set(blobKey, content.slice(0, MAX_TOOL_OUTPUT_TO_MODEL), 'EX', TRANSCRIPT_TTL_SECONDS);
    return { toolUseId, isError, preview: `[${summary}; kept outside history]`, blobKey };
  }

  /** Turns tool result references back into `tool_result` blocks with the full output. */
  async resolveToolResults(refs: ToolResultRef[]): Promise<UserBlock[]> {
    const blobKeys = refs.filter((r) => r.blobKey !== undefined).map((r) => r.blobKey!);
    const blobs = blobKeys.length > 0 ? await this.redis.mget(...blobKeys) : [];
    const byKey = new Map(blobKeys.map((k, i) => [k, blobs[i]]));
    return refs.map((r) => {
      const full =
        r.blobKey !== undefined ? (byKey.get(r.blobKey) ?? `${r.preview} [full output expired]`) : r.preview;
      return {
        type: 'tool_result',
        tool_use_id: r.toolUseId,
        content: full,
        ...(r.isError ? { is_error: true } : {}),
      };
    });
  }
}
