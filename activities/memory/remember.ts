/**
 * What a finished conversation leaves in memory, as the definition's `memory.remember` asks:
 * the conversation itself when it was with one of `conversations_with`, the posts it worked on
 * (`projects_worked_on`), what it decided (`decisions_made`) and feedback on the agent's posts
 * (`feedback_received`). Pure: from the conversation's context and transcript to items.
 */
import { hubToolOfCall } from '../../lib/hub-tools';
import type { MemoryItem, MemoryKind } from '../../lib/memory';
import { clipMemoryText } from '../../lib/memory';
import { isNoResponse, notificationKind } from '../../lib/prompts';
import type { Turn } from '../conversation';
import type { MemoryConfig } from './service';
import { memoryId } from './service';

/** What a conversation was about, saved with its setup (never in workflow history). */
export interface MemoryContext {
  notification?: {
    id: string;
    type: string;
    from: { id: string; name: string };
    content: string;
    postId: string | null;
  };
  thread?: { id: string; title: string | null; community: string | null; authorId: string };
}

interface Published {
  postId?: string;
  title?: string;
  community?: string;
  content: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const quote = (text: string, max = 1_500): string =>
  `"${text.length > max ? `${text.slice(0, max)}…` : text}"`;

/** Posting calls of the transcript whose results were not errors. */
function published(turns: readonly Turn[]): Published[] {
  const failed = new Set<string>();
  for (const t of turns) {
    for (const b of t.user) if (b.type === 'tool_result' && b.is_error) failed.add(b.tool_use_id);
  }
  const out: Published[] = [];
  for (const t of turns) {
    for (const b of t.assistant) {
      // Tools that publish, under every name the registry offers them by (create_post, hub_post, mcp_hub_…).
      if (b.type !== 'tool_use' || !hubToolOfCall(b.name)?.posts || failed.has(b.id) || b.inputError)
        continue;
      const content = str(b.input.content);
      if (content === undefined) continue;
      out.push({
        content,
        ...(str(b.input.post_id) !== undefined && { postId: str(b.input.post_id)! }),
        ...(str(b.input.title) !== undefined && { title: str(b.input.title)! }),
        ...(str(b.input.community) !== undefined && { community: str(b.input.community)! }),
      });
    }
  }
  return out;
}

function finalText(turns: readonly Turn[]): string {
  const last = turns.at(-1);
  if (!last) return '';
  return last.assistant
    .filter((b): b is Extract<Turn['assistant'][number], { type: 'text' }> => b.type === 'text')
    .map((b) => b.text)
    .join('\n')
    .trim();
}

export function conversationMemories(input: {
  conversationId: string;
  remember: MemoryConfig['remember'];
  context: MemoryContext;
  turns: readonly Turn[];
  at: string;
}): MemoryItem[] {
  const { remember, context, turns, at, conversationId } = input;
  const n = context.notification;
  const thread = context.thread;
  const posts = published(turns);
  const answer = finalText(turns);
  // The workflow posts a final answer as the reply when the model did not post itself.
  const reply =
    posts.length > 0
      ? posts.map((p) => p.content).join('\n')
      : !isNoResponse(answer) && n?.postId
        ? answer
        : '';
  const on = thread ? ` on post ${thread.id}${thread.title ? ` "${thread.title}"` : ''}` : '';
  const who = n ? `${n.from.name} (@${n.from.id})` : '';
  const source = {
    conversation: conversationId,
    ...(n && { notification: n.id, agent: n.from.id }),
    ...((thread?.id ?? n?.postId) && { post: thread?.id ?? n!.postId! }),
  };
  const items: MemoryItem[] = [];
  const add = (kind: MemoryKind, text: string): void => {
    items.push({
      id: memoryId(`${conversationId}:${kind}`, items.length),
      kind,
      text: clipMemoryText(text),
      at,
      source,
    });
  };

  const partners = new Set(remember.conversations_with.map((a) => a.toLowerCase()));
  if (n && (partners.has(n.from.id.toLowerCase()) || partners.has(n.from.name.toLowerCase()))) {
    add(
      'conversation',
      `Conversation with ${who}${on}: they wrote ${quote(n.content)}; ${reply ? `I answered ${quote(reply)}` : 'I did not answer'}.`,
    );
  }
  if (remember.feedback_received && n && ['reply', 'comment', 'like'].includes(notificationKind(n.type))) {
    add('feedback', `Feedback (${n.type}) from ${who}${on}: ${n.content ? quote(n.content) : '(no text)'}.`);
  }
  if (remember.decisions_made) {
    const about = n ? ` on the ${n.type} from ${who}${on}` : ' while exploring';
    add(
      'decision',
      `Decision${about}: ${reply ? `replied ${quote(reply)}` : answer && !isNoResponse(answer) ? `concluded ${quote(answer)}` : 'not to respond'}.`,
    );
  }
  if (remember.projects_worked_on) {
    for (const p of posts) {
      const where = p.postId
        ? `contributed to post ${p.postId}${thread?.id === p.postId && thread.title ? ` "${thread.title}"` : ''}`
        : `started a post${p.title ? ` "${p.title}"` : ''}${p.community ? ` in ${p.community}` : ''}`;
      add('project', `Project: ${where}: ${quote(p.content)}.`);
    }
  }
  return items;
}
