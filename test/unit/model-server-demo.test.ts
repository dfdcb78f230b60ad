/**
 * The demo persona script against the real prompts of lib/prompts.ts: what it answers to each kind
 * of activation, and that every tool call it makes fits the Hub tools' input schemas.
 */
import { describe, expect, it } from 'vitest';
import { toCreateParams } from '../../activities/model';
import type { MessageParam } from '../../activities/model';
import { decide } from '../../dev/model-server/engine';
import type { Decision } from '../../dev/model-server/engine';
import { validateRequest, viewOf } from '../../dev/model-server/messages';
import { demoScenarioPath, loadScenarioFile } from '../../dev/model-server/scenario';
import { hubToolSpecs } from '../../lib/hub-tools';
import type { HubFeedPost, HubNotification, HubPost } from '../../lib/hub/types';
import { explorationPrompt, FINAL_ITERATION_NOTE, isNoResponse, notificationPrompt } from '../../lib/prompts';

const demo = loadScenarioFile(demoScenarioPath());
const tools = hubToolSpecs([]);

function notification(type: string, content: string, postId: string | null = 'p42'): HubNotification {
  return {
    id: 'n1',
    type,
    post_id: postId,
    from_agent: { id: 'alice', name: 'Alice' },
    content,
    created_at: '2026-11-27T10:00:00Z',
    read: false,
  };
}

const thread: HubPost = {
  id: 'p42',
  author: { id: 'otto', name: 'Otto' },
  title: 'Otter facts',
  content: 'Otters are great. Are they?',
  community: 'm/nature',
  parent_id: null,
  created_at: '2026-11-27T09:00:00Z',
  updated_at: null,
  comments: [],
};

type Msg = { role: 'user' | 'assistant'; content: unknown };

function answer(messages: Msg[], offered = tools): Decision {
  // The body exactly as callModel sends it (a final step without tools declares the used ones
  // with tool_choice none).
  const body = toCreateParams({
    model: 'm',
    system: 'You are Otto.',
    messages: messages as MessageParam[],
    tools: offered,
    maxTokens: 1000,
    temperature: 0.7,
  });
  const d = decide(demo, viewOf(validateRequest(JSON.parse(JSON.stringify(body)), '2026-10-21')));
  // Every call must fit the tool's schema: required fields present, no unknown fields.
  for (const call of d.toolCalls) {
    const spec = tools.find((t) => t.name === call.name)!;
    const props = Object.keys(spec.input_schema.properties ?? {});
    for (const key of Object.keys(call.input)) expect(props).toContain(key);
    for (const key of (spec.input_schema.required ?? []) as string[]) expect(call.input[key]).toBeTruthy();
  }
  return d;
}

const opening = (text: string): Msg[] => [{ role: 'user', content: [{ type: 'text', text }] }];

function afterTool(
  messages: Msg[],
  name: string,
  input: object,
  result: string,
  extra: object[] = [],
  isError = false,
): Msg[] {
  return [
    ...messages,
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_x', name, input }] },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_x', content: result, is_error: isError },
        ...extra,
      ],
    },
  ];
}

describe('demo persona', () => {
  it('answers a question: searches with the question, then replies citing the first hit', () => {
    const start = opening(
      notificationPrompt(
        notification('mention', 'Hi Otto! Do otters hold hands when they sleep? Curious.'),
        thread,
      ),
    );
    const d1 = answer(start);
    expect(d1.rule).toBe('question-search');
    expect(d1.toolCalls).toEqual([
      { name: 'hub_search', input: { query: 'Do otters hold hands when they sleep?', limit: 5 } },
    ]);

    const results = JSON.stringify({
      results: [
        {
          id: 'p7',
          author: { id: 'bob', name: 'Bob' },
          title: 'Sleeping otters',
          content: '…',
          community: null,
          created_at: 'x',
        },
        {
          id: 'p8',
          author: { id: 'cy', name: 'Cy' },
          title: 'Other',
          content: '…',
          community: null,
          created_at: 'x',
        },
      ],
    });
    const d2 = answer(afterTool(start, 'hub_search', {}, results));
    expect(d2.rule).toBe('question-reply-found');
    expect(d2.toolCalls[0]?.input).toEqual({
      post_id: 'p42',
      content: expect.stringContaining('"Sleeping otters" (post p7)'),
    });

    const d3 = answer(afterTool(start, 'hub_search', {}, '{"results":[]}'));
    expect(d3.rule).toBe('question-reply-nothing-found');
    expect(d3.toolCalls[0]?.input.post_id).toBe('p42');
  });

  it('uses the search hit even when its title is null', () => {
    const start = opening(notificationPrompt(notification('reply', 'Why?'), thread));
    const results = JSON.stringify({
      results: [
        {
          id: 'p7',
          author: { id: 'b', name: 'B' },
          title: null,
          content: 'c',
          community: null,
          created_at: 'x',
        },
      ],
    });
    const d = answer(afterTool(start, 'hub_search', {}, results));
    expect(String(d.toolCalls[0]?.input.content)).toContain('"a related post" (post p7)');
  });

  it('replies straight away to a mention without a question, then closes with text', () => {
    const start = opening(notificationPrompt(notification('mention', 'Great otter facts!'), thread));
    const d1 = answer(start);
    expect(d1.rule).toBe('notification-reply');
    expect(d1.toolCalls).toEqual([
      { name: 'hub_post', input: { post_id: 'p42', content: expect.stringContaining('Alice') } },
    ]);
    const d2 = answer(
      afterTool(start, 'hub_post', { post_id: 'p42', content: 'x' }, '{"created":"comment","id":"c1"}'),
    );
    expect(d2).toMatchObject({ rule: 'after-post', toolCalls: [] });
    const refused = answer(
      afterTool(start, 'hub_post', { content: 'x' }, 'not posted: daily limit', [], true),
    );
    expect(refused.rule).toBe('post-refused');
    expect(isNoResponse(refused.text ?? '')).toBe(true);
  });

  it('needs no response to likes, follows, or notifications without a post', () => {
    for (const n of [
      notification('like', ''),
      notification('follow', '', null),
      notification('dm', 'Hello! How are you?', null),
    ]) {
      const d = answer(opening(notificationPrompt(n, n.post_id ? thread : null)));
      expect(d.toolCalls).toEqual([]);
      expect(isNoResponse(d.text ?? '')).toBe(true);
    }
  });

  it('explores: replies to the first post listed, or needs no response', () => {
    const feed: HubFeedPost[] = [
      {
        id: 'p7',
        author: { id: 'bob', name: 'Bob' },
        title: 'Rivers',
        content: 'Rivers are great',
        community: 'm/nature',
        created_at: 'x',
      },
      {
        id: 'p8',
        author: { id: 'cy', name: 'Cy' },
        title: null,
        content: 'Lakes',
        community: null,
        created_at: 'x',
      },
    ] as HubFeedPost[];
    const d = answer(opening(explorationPrompt(feed, { postsLeft: 1, commentsLeft: 1 })));
    expect(d.toolCalls).toEqual([
      { name: 'hub_post', input: { post_id: 'p7', content: expect.stringContaining('Bob') } },
    ]);
    const none = answer(opening(explorationPrompt([], { postsLeft: 1, commentsLeft: 1 })));
    expect(isNoResponse(none.text ?? '')).toBe(true);
  });

  it('always answers in text on the final iteration (no tools offered)', () => {
    const start = opening(notificationPrompt(notification('mention', 'Do otters swim?'), thread));
    const searched = afterTool(start, 'hub_search', {}, '{"results":[]}', [
      { type: 'text', text: FINAL_ITERATION_NOTE },
    ]);
    const d = answer(searched, []);
    expect(d.toolCalls).toEqual([]);
    expect(d.text).toContain('Alice');
    const posted = afterTool(start, 'hub_post', { content: 'x' }, '{"created":"comment","id":"c1"}', [
      { type: 'text', text: FINAL_ITERATION_NOTE },
    ]);
    expect(answer(posted, []).text).toBe('Done: I replied on the Hub.');
    const explore = answer(opening(explorationPrompt([], { postsLeft: 0, commentsLeft: 0 })), []);
    expect(isNoResponse(explore.text ?? '')).toBe(true);
  });
});
