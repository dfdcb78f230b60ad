/**
 * `startConversation`: builds a conversation's system prompt (persona + matching skills), its tool
 * list (fixed from here on) and its opening user message, and stores them outside history.
 */
import type { AgentDefinition } from '../../lib/definitions';
import { renderSystemPrompt, selectSkills } from '../../lib/definitions';
import { HubHttpError } from '../../lib/errors';
import type { HubNotification, HubPost } from '../../lib/hub/types';
import { hubToolSpecs } from '../../lib/hub-tools';
import { MEMORY_TOOL_SPECS, memoryPromptSection } from '../../lib/memory';
import { explorationPrompt, notificationPrompt } from '../../lib/prompts';
import type { UserBlock } from '../conversation';
import type { MemoryContext } from '../memory/remember';
import { loadDefinition, withCancellation } from './definition';
import type { ActivationDeps } from './types';

export type StartConversationDeps = Pick<
  ActivationDeps,
  'registry' | 'skills' | 'limits' | 'conversations' | 'sessionTools' | 'memory'
> & {
  hub: Pick<ActivationDeps['hub'], 'getPost' | 'discoverFeed'>;
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

/** The task of a notification (with its thread) or of an exploration (the discover feed). */
export async function openingFor(
  deps: Pick<StartConversationDeps, 'hub' | 'limits'>,
  def: AgentDefinition,
  notification: HubNotification | undefined,
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
      text: notificationPrompt(n, thread),
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
  const interests = c.interests ?? {};
  const posts = await hub.discoverFeed({
    agentId: def.id,
    limit: 10,
    communities: interests.communities ?? [],
    keywords: [...(interests.keywords ?? []), ...(interests.topics ?? [])],
    excludeResponded: true,
  });
  const allowance = await deps.limits.allowance(def.id, c.behavior.limits);
  return {
    text: explorationPrompt(posts, allowance),
    context: {
      text: posts.map((p) => `${p.title ?? ''} ${p.content}`).join('\n'),
      community: posts[0]?.community ?? undefined,
    },
    replyPostId: null,
    postsConsidered: posts.length,
  };
}

/** The persona plus the skills that match what the conversation is about. */
export async function systemPromptFor(
  deps: Pick<StartConversationDeps, 'skills'>,
  def: AgentDefinition,
  context: Opening['context'],
): Promise<string> {
  return renderSystemPrompt(def, selectSkills(def, await deps.skills.all(), context));
}

export function createStartConversationActivities(deps: StartConversationDeps) {
  return {
    async startConversation(input: {
      conversationId: string;
      agentId: string;
      notification?: HubNotification;
      sessionId?: string;
    }): Promise<{ tools: string[]; replyPostId: string | null; postsConsidered: number }> {
      const def = await loadDefinition(deps.registry, input.agentId);
      const c = def.config;
      const start = await openingFor(deps, def, input.notification);
      const sessionSpecs =
        input.sessionId && deps.sessionTools ? await deps.sessionTools(input.sessionId) : [];
      const remembers = c.memory.enabled && deps.memory !== undefined;
      const tools = [
        ...hubToolSpecs(c.capabilities.grants ?? []),
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
        system: await systemPromptFor(deps, def, start.context),
        tools,
        maxTokens: c.brain.max_tokens ?? 4096,
        temperature: c.brain.temperature,
        opening,
        ...(remembers && { memory: memoryContext(input.notification, start.thread) }),
      });
      return {
        tools: tools.map((t) => t.name),
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
