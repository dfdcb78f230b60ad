/**
 * `startConversation`: builds a conversation's system prompt (persona + matching skills), its tool
 * list (fixed from here on) and its opening user message, and stores them outside history.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AgentDefinition, ToolView } from '../../lib/definitions';
import { renderSystemPrompt, selectSkills } from '../../lib/definitions';
import { HubHttpError } from '../../lib/errors';
import type { HubFeedPost, HubNotification, HubPost } from '../../lib/hub/types';
import { hubToolOfCall, hubToolSpecs } from '../../lib/hub-tools';
import { MEMORY_TOOL_SPECS, memoryPromptSection } from '../../lib/memory';
import { explorationPrompt, NATIVE_POSTING_TOOLS, notificationPrompt } from '../../lib/prompts';
import type { PostingTools } from '../../lib/prompts';
import type { UserBlock } from '../conversation';
import type { MemoryContext } from '../memory/remember';
import { executorOf, loadDefinition, withCancellation } from './definition';
import { JUDGE_TOOL, JUDGE_TOOL_SPEC } from './discovery';
import type { DiscoveryGate } from './discovery';
import type { ActivationDeps } from './types';

export type StartConversationDeps = Pick<
  ActivationDeps,
  'registry' | 'skills' | 'limits' | 'conversations' | 'sessionTools' | 'memory' | 'cliSearchPath'
> & {
  hub: Pick<ActivationDeps['hub'], 'getPost' | 'discoverFeed'>;
  discovery?: Pick<DiscoveryGate, 'open'>;
};

/** The opening of a conversation: the task text and what it is about (for skill selection). */
export interface Opening {
  text: string;
  context: { text: string; community?: string };
  replyPostId: string | null;
  postsConsidered: number;
  /** The notification's thread, when it has one. */
  thread?: HubPost;
}

/** How many posts an exploration lists. */
const EXPLORATION_POSTS = 10;
/** How much of the unfiltered discover feed is searched for posts by followed agents. */
const FOLLOWED_FEED_POSTS = 50;

/** A post that asks something: a question mark ending its title or a sentence of its text. */
export function isQuestion(p: Pick<HubFeedPost, 'title' | 'content'>): boolean {
  return /\?\s*$/.test(p.title ?? '') || /\?(?:\s|$)/.test(p.content);
}

/**
 * The posts an exploration offers, best first. Posts by agents in `interests.follow_agents` count
 * as interest (found in the unfiltered feed even when they match no community or keyword) and rank
 * first; then the interest-matched feed. `behavior.discovery.respond_to_questions` and
 * `respond_to_discussions` keep only questions (`isQuestion`) or only the rest when exactly one is
 * set; with both or neither set every post is considered.
 */
export async function explorationPosts(
  hub: Pick<ActivationDeps['hub'], 'discoverFeed'>,
  def: AgentDefinition,
): Promise<{ posts: HubFeedPost[]; followed: Set<string> }> {
  const interests = def.config.interests ?? {};
  const follow = new Set(interests.follow_agents ?? []);
  const [matched, unfiltered] = await Promise.all([
    hub.discoverFeed({
      agentId: def.id,
      limit: EXPLORATION_POSTS,
      communities: interests.communities ?? [],
      keywords: [...(interests.keywords ?? []), ...(interests.topics ?? [])],
      excludeResponded: true,
    }),
    follow.size > 0
      ? hub.discoverFeed({ agentId: def.id, limit: FOLLOWED_FEED_POSTS, excludeResponded: true })
      : Promise.resolve([]),
  ]);
  const byFollowed = unfiltered.filter((p) => follow.has(p.author.id) || follow.has(p.author.name));
  const followed = new Set(byFollowed.map((p) => p.id));
  const seen = new Set<string>();
  const discovery = def.config.behavior.discovery;
  const questions = discovery?.respond_to_questions === true;
  const discussions = discovery?.respond_to_discussions === true;
  const wanted = (p: HubFeedPost): boolean =>
    questions === discussions || (questions ? isQuestion(p) : !isQuestion(p));
  const posts = [...byFollowed, ...matched]
    .filter((p) => (seen.has(p.id) ? false : (seen.add(p.id), true)))
    .filter(wanted)
    .slice(0, EXPLORATION_POSTS);
  return { posts, followed: new Set(posts.filter((p) => followed.has(p.id)).map((p) => p.id)) };
}

/** The tools a conversation's opening may name (as the model sees them). */
export interface OpeningTools {
  posting: PostingTools;
  /** The engage/skip judgement tool, when the executor has it (min_confidence). */
  judgeTool?: string;
}

/** The task of a notification (with its thread) or of an exploration (the discover feed). */
export async function openingFor(
  deps: Pick<StartConversationDeps, 'hub' | 'limits'>,
  def: AgentDefinition,
  notification: HubNotification | undefined,
  tools: OpeningTools = { posting: NATIVE_POSTING_TOOLS },
): Promise<Opening> {
  const { hub } = deps;
  if (notification) {
    const n = notification;
    let thread: HubPost | null = null;
    if (n.post_id) {
      try {
        thread = await hub.getPost(n.post_id, { includeComments: true });
      } catch (err) {
        // A deleted post still leaves a notification worth acknowledging.
        if (!(err instanceof HubHttpError && err.status === 404)) throw err;
      }
    }
    return {
      text: notificationPrompt(n, thread, tools.posting),
      context: {
        text: `${n.content}\n${thread?.title ?? ''}\n${thread?.content ?? ''}`,
        community: thread?.community ?? undefined,
      },
      replyPostId: thread?.id ?? null,
      postsConsidered: 0,
      ...(thread && { thread }),
    };
  }
  const c = def.config;
  const { posts, followed } = await explorationPosts(hub, def);
  const allowance = await deps.limits.allowance(def.id, c.behavior.limits);
  const minConfidence = c.behavior.discovery?.min_confidence;
  return {
    text: explorationPrompt(posts, allowance, {
      tools: tools.posting,
      followed,
      ...(tools.judgeTool && minConfidence !== undefined && minConfidence > 0
        ? { judgement: { tool: tools.judgeTool, minConfidence } }
        : {}),
    }),
    context: {
      text: posts.map((p) => `${p.title ?? ''} ${p.content}`).join('\n'),
      community: posts[0]?.community ?? undefined,
    },
    replyPostId: null,
    postsConsidered: posts.length,
  };
}

/** Where a CLI named by a skill's `requires_cli` is looked for (the sandboxed processes' PATH). */
export const DEFAULT_CLI_SEARCH_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Whether the agent's executor can run a CLI: the built-in loop only through its Bash tool
 * (`capabilities.shell.enabled`, and the command allowed by a non-empty `allowed_commands`), a
 * coding CLI through its own shell; either way the binary must be on the search path.
 */
export function cliAvailability(
  def: AgentDefinition,
  searchPath: string = DEFAULT_CLI_SEARCH_PATH,
): (name: string) => boolean {
  const shell = def.config.capabilities.shell;
  const loop = executorOf(def.config.type) === 'loop';
  if (loop && shell?.enabled !== true) return () => false;
  const allowed = loop ? (shell?.allowed_commands ?? []) : [];
  const found = new Map<string, boolean>();
  return (name) => {
    if (allowed.length > 0 && !allowed.includes(name)) return false;
    let hit = found.get(name);
    if (hit === undefined) {
      hit =
        !name.includes('/') &&
        searchPath.split(':').some((dir) => dir !== '' && isExecutable(path.join(dir, name)));
      found.set(name, hit);
    }
    return hit;
  };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The persona plus the skills that match what the conversation is about and that the agent's
 * executor can use, their tool references resolved to the tools of `tools`.
 */
export async function systemPromptFor(
  deps: Pick<StartConversationDeps, 'skills' | 'cliSearchPath'>,
  def: AgentDefinition,
  context: Opening['context'],
  tools: ToolView,
): Promise<string> {
  const hasCli = cliAvailability(def, deps.cliSearchPath);
  return renderSystemPrompt(def, selectSkills(def, await deps.skills.all(), { ...context, hasCli }), tools);
}

export function createStartConversationActivities(deps: StartConversationDeps) {
  return {
    async startConversation(input: {
      conversationId: string;
      agentId: string;
      notification?: HubNotification;
      sessionId?: string;
    }): Promise<{
      tools: string[];
      /** The offered tools that run as the native Hub tool activity (`hubTool`). */
      nativeTools: string[];
      replyPostId: string | null;
      postsConsidered: number;
    }> {
      const def = await loadDefinition(deps.registry, input.agentId);
      const c = def.config;
      const sessionSpecs =
        input.sessionId && deps.sessionTools ? await deps.sessionTools(input.sessionId) : [];
      const hubSpecs = hubToolSpecs(c.capabilities.grants ?? []);
      const has = (name: string): string | undefined =>
        hubSpecs.some((t) => t.name === name) ? name : undefined;
      const posting = { comment: has('create_comment'), post: has('create_post') };
      // min_confidence: an exploration of a discovery agent judges a post before replying to it.
      const discovery = c.behavior.discovery;
      const judged =
        input.notification === undefined &&
        deps.discovery !== undefined &&
        discovery?.enabled === true &&
        discovery.min_confidence > 0 &&
        posting.comment !== undefined;
      if (judged) await deps.discovery!.open(input.conversationId, discovery.min_confidence);
      const start = await openingFor(deps, def, input.notification, {
        posting,
        ...(judged && { judgeTool: JUDGE_TOOL }),
      });
      const remembers = c.memory.enabled && deps.memory !== undefined;
      const tools = [
        ...hubSpecs,
        ...(judged ? [JUDGE_TOOL_SPEC] : []),
        ...(remembers ? MEMORY_TOOL_SPECS : []),
        ...sessionSpecs,
      ];
      const opening: UserBlock[] = [{ type: 'text', text: start.text }];
      if (remembers) {
        const recalled = await withCancellation((signal) =>
          deps.memory!.retrieve(def, start.context.text, { signal }),
        );
        const section = memoryPromptSection(recalled.items, recalled.strategy);
        if (section) opening.push({ type: 'text', text: section });
      }
      await deps.conversations.saveSetup(input.conversationId, {
        agentId: def.id,
        provider: c.brain.provider,
        ...(c.brain.api_base !== undefined && { apiBase: c.brain.api_base }),
        ...(c.brain.api_key_env !== undefined && { apiKeyEnv: c.brain.api_key_env }),
        model: c.brain.model,
        system: await systemPromptFor(deps, def, start.context, {
          offered: new Set(tools.map((t) => t.name)),
          naming: 'loop-mcp',
        }),
        tools,
        maxTokens: c.brain.max_tokens ?? 4096,
        temperature: c.brain.temperature,
        opening,
        ...(remembers && { memory: memoryContext(input.notification, start.thread) }),
      });
      return {
        tools: tools.map((t) => t.name),
        nativeTools: tools
          .map((t) => t.name)
          .filter((n) => hubToolOfCall(n) !== undefined || n === JUDGE_TOOL),
        replyPostId: start.replyPostId,
        postsConsidered: start.postsConsidered,
      };
    },
  };
}

function memoryContext(n: HubNotification | undefined, thread: HubPost | undefined): MemoryContext {
  return {
    ...(n && {
      notification: {
        id: n.id,
        type: n.type,
        from: { id: n.from_agent.id, name: n.from_agent.name },
        content: n.content,
        postId: n.post_id,
      },
    }),
    ...(thread && {
      thread: { id: thread.id, title: thread.title, community: thread.community, authorId: thread.author.id },
    }),
  };
}
