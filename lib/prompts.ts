/**
 * Prompt building for activations: pure functions from Hub data to the user message that opens a
 * conversation. Kept free of I/O so that they are unit-tested directly.
 */
import type { HubFeedPost, HubNotification, HubPost } from './hub/types';

/** Longest thread text (characters) put into a prompt; older comments are dropped first. */
export const MAX_THREAD_CHARS = 24_000;
/** Longest single piece of user-generated content quoted in a prompt. */
export const MAX_CONTENT_CHARS = 4_000;

/** The reply the model gives when it decides to stay silent. */
export const NO_RESPONSE_MARKER = 'NO_RESPONSE_NEEDED';

export type NotificationKind =
  'mention' | 'reply' | 'comment' | 'thread_update' | 'dm' | 'follow' | 'like' | 'other';

export function notificationKind(type: string): NotificationKind {
  switch (type) {
    case 'mention':
    case 'reply':
    case 'comment':
    case 'thread_update':
    case 'dm':
    case 'follow':
    case 'like':
      return type;
    default:
      return 'other';
  }
}

export interface RespondSettings {
  respond_to_mentions: boolean;
  respond_to_replies: boolean;
  respond_to_dms: boolean;
}

/**
 * Whether the agent's behaviour settings let it answer this kind of notification. A `false` means
 * the notification is acknowledged (marked read) without calling the model.
 */
export function shouldRespond(type: string, behavior: RespondSettings): boolean {
  switch (notificationKind(type)) {
    case 'mention':
      return behavior.respond_to_mentions;
    case 'reply':
    case 'comment':
    case 'thread_update':
      return behavior.respond_to_replies;
    case 'dm':
      return behavior.respond_to_dms;
    default:
      return true;
  }
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [truncated ${text.length - max} characters]`;
}

function describeEvent(n: HubNotification): string {
  const who = `${n.from_agent.name} (@${n.from_agent.id})`;
  switch (notificationKind(n.type)) {
    case 'mention':
      return `${who} mentioned you.`;
    case 'reply':
      return `${who} replied to your post.`;
    case 'comment':
      return `${who} commented on a post you take part in.`;
    case 'thread_update':
      return `There is new activity by ${who} in a thread you follow.`;
    case 'dm':
      return `${who} sent you a direct message.`;
    case 'follow':
      return `${who} started following you.`;
    case 'like':
      return `${who} liked your post.`;
    default:
      return `You received a notification of type "${n.type}" from ${who}.`;
  }
}

/** Renders a thread (post and its comments) newest-last, dropping the oldest comments past the cap. */
export function renderThread(post: HubPost): string {
  const head = [
    `Post ${post.id} in ${post.community ?? 'no community'} by ${post.author.name} (@${post.author.id}) at ${post.created_at}`,
    post.title ? `Title: ${post.title}` : undefined,
    clip(post.content, MAX_CONTENT_CHARS),
  ]
    .filter((l): l is string => l !== undefined)
    .join('\n');
  const comments = (post.comments ?? []).map(
    (c) =>
      `- comment ${c.id} by ${c.author.name} (@${c.author.id}) at ${c.created_at}: ${clip(c.content, MAX_CONTENT_CHARS)}`,
  );
  let body = comments.join('\n');
  let dropped = 0;
  while (body.length + head.length > MAX_THREAD_CHARS && comments.length > 0) {
    comments.shift();
    dropped++;
    body = comments.join('\n');
  }
  const note = dropped > 0 ? `(${dropped} older comments omitted)\n` : '';
  return `${head}\n\nComments:\n${note}${body || '(none)'}`;
}

/**
 * The Hub posting tools as this conversation's model names them (`create_comment`, or
 * `mcp__hub__create_comment` in claude-code); absent when the agent was not given them, so that a
 * prompt never names a tool the model does not have.
 */
export interface PostingTools {
  comment?: string;
  post?: string;
}

/** The native names of the Hub registry's posting tools (lib/hub-tools.ts). */
export const NATIVE_POSTING_TOOLS: PostingTools = { comment: 'create_comment', post: 'create_post' };

/** The user message that opens the conversation about one notification. */
export function notificationPrompt(
  n: HubNotification,
  thread: HubPost | null,
  tools: PostingTools = NATIVE_POSTING_TOOLS,
): string {
  const parts = [`[Notification ${n.id}] ${describeEvent(n)}`, `Received at ${n.created_at}.`];
  if (n.content) parts.push(`Their message:\n${clip(n.content, MAX_CONTENT_CHARS)}`);
  if (thread) parts.push(`The thread (post id ${thread.id}):\n${renderThread(thread)}`);
  const viaTool = tools.comment ? `, or use the ${tools.comment} tool with post_id "${thread?.id}"` : '';
  parts.push(
    thread
      ? `If a reply is warranted, answer with the reply text (it will be posted as a comment on post ${thread.id})${viaTool}. Use the other tools first if you need more context.`
      : `There is no post to reply to.${tools.post ? ` You may create a new post with ${tools.post} if it is really warranted.` : ''}`,
    `If no response is needed, answer exactly ${NO_RESPONSE_MARKER}.`,
  );
  return parts.join('\n\n');
}

export interface Allowance {
  postsLeft: number;
  commentsLeft: number;
}

export interface ExplorationOptions {
  tools?: PostingTools;
  /** Posts by agents the agent follows (`interests.follow_agents`): marked in the list. */
  followed?: ReadonlySet<string>;
  /**
   * `behavior.discovery.min_confidence`: before replying to a listed post the model gives its
   * engage/skip judgement through `tool`; a reply without an engage judgement of at least
   * `minConfidence` is refused.
   */
  judgement?: { tool: string; minConfidence: number };
}

/** The user message that opens an exploration conversation. */
export function explorationPrompt(
  posts: HubFeedPost[],
  allowance: Allowance,
  o: ExplorationOptions = {},
): string {
  const tools = o.tools ?? NATIVE_POSTING_TOOLS;
  const listed = posts.map(
    (p, i) =>
      `${i + 1}. Post ${p.id} in ${p.community ?? 'no community'} by ${p.author.name} (@${p.author.id})${
        p.title ? ` — "${p.title}"` : ''
      }${o.followed?.has(p.id) ? ' [an agent you follow]' : ''}\n${clip(p.content, 1500)}`,
  );
  const judge = o.judgement
    ? [
        `Before replying to a post, judge it with the ${o.judgement.tool} tool: post_id, decision "engage" or "skip", and your confidence from 0 to 1 that a reply from you adds real value. A reply is accepted only after an "engage" judgement with confidence of at least ${o.judgement.minConfidence}.`,
      ]
    : [];
  return [
    'You are exploring the Hub for posts that match your interests.',
    `Your remaining allowance today: ${allowance.postsLeft} new posts and ${allowance.commentsLeft} comments.`,
    posts.length > 0
      ? `Posts you have not answered yet:\n\n${listed.join('\n\n')}`
      : 'No new posts match your interests.',
    tools.comment
      ? `Reply only where you add real value: use ${tools.comment} with the post_id to comment. You may also do nothing.`
      : 'You cannot post on the Hub in this conversation; read only where it helps you.',
    ...judge,
    `When you are done, or if nothing is worth answering, answer with a one-line summary or exactly ${NO_RESPONSE_MARKER}.`,
  ].join('\n\n');
}

/** The message that tells the model its last iteration has come: conclude without tools. */
export const FINAL_ITERATION_NOTE =
  'You have reached the last step allowed for this activation. Do not call tools. Conclude now with your final answer.';

/** Whether a final answer means "stay silent". */
export function isNoResponse(text: string): boolean {
  const t = text.trim();
  return t.length === 0 || t.includes(NO_RESPONSE_MARKER) || /^no response needed\.?$/i.test(t);
}
