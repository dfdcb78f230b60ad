import { describe, expect, it } from 'vitest';
import { decide, firstQuestion, renderInput, renderTemplate } from '../../dev/model-server/engine';
import { countInputTokens, InvalidRequest, validateRequest, viewOf } from '../../dev/model-server/messages';
import type { MessagesRequest } from '../../dev/model-server/messages';
import {
  compileRegex,
  demoScenarioPath,
  loadScenarioFile,
  parseScenario,
  parseScenarioText,
  ScenarioError,
} from '../../dev/model-server/scenario';

const tools = [
  { name: 'hub_post', input_schema: { type: 'object' } },
  { name: 'hub_search', input_schema: { type: 'object' } },
];

function req(partial: Partial<MessagesRequest>): MessagesRequest {
  return validateRequest({
    model: 'm',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'hi' }],
    ...partial,
  });
}

function invalid(body: unknown): string {
  try {
    validateRequest(body);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequest);
    return (err as Error).message;
  }
  throw new Error('expected InvalidRequest');
}

describe('validateRequest', () => {
  it('requires model, max_tokens and messages', () => {
    expect(invalid({ max_tokens: 1, messages: [] })).toMatch(/^model: /);
    expect(invalid({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).toMatch(/^max_tokens: /);
    expect(invalid({ model: 'm', max_tokens: 0, messages: [] })).toMatch(/^max_tokens: /);
    expect(invalid({ model: 'm', max_tokens: 1 })).toMatch(/^messages: /);
    expect(invalid({ model: 'm', max_tokens: 1, messages: [] })).toMatch(/^messages: /);
    expect(invalid('nope')).toMatch(/^body: /);
  });

  it('names the bad message field', () => {
    expect(invalid({ model: 'm', max_tokens: 1, messages: [{ role: 'bot', content: 'x' }] })).toMatch(
      /^messages\.0\.role/,
    );
    expect(
      invalid({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'text' }] }] }),
    ).toBe('messages.0.content.0.text: Field required');
  });

  it('enforces tool_use / tool_result pairing and object inputs like the real API', () => {
    const use = { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 't', input: {} }] };
    expect(invalid({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }, use] })).toContain(
      'without `tool_result` blocks immediately after: toolu_a',
    );
    const stray = {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_a', content: 'r' },
        { type: 'tool_result', tool_use_id: 'toolu_zzz', content: 'r' },
      ],
    };
    expect(
      invalid({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }, use, stray] }),
    ).toContain('unexpected `tool_use_id` found in `tool_result` blocks: toolu_zzz');
    const stringInput = {
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'toolu_a', name: 't', input: '{' }],
    };
    expect(
      invalid({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }, stringInput] }),
    ).toBe('messages.1.content.0.tool_use.input: Input should be a valid dictionary');
  });

  it('refuses tool blocks in a request that defines no tools, as the real API does', () => {
    const messages = [
      { role: 'user', content: 'x' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 't', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: 'r' }] },
    ];
    expect(invalid({ model: 'm', max_tokens: 1, messages })).toBe(
      'Requests which include `tool_use` or `tool_result` blocks must define tools.',
    );
    const ok = validateRequest({
      model: 'm',
      max_tokens: 1,
      messages,
      tools: [tools[0]],
      tool_choice: { type: 'none' },
    });
    expect(viewOf(ok).offeredTools).toEqual([]);
  });

  it('refuses sampling parameters from API version 2026-10-21 on, as the real API does', () => {
    const body = { model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], temperature: 0.7 };
    expect(() => validateRequest(body, '2026-10-21')).toThrow('temperature: Extra inputs are not permitted');
    const { temperature: _t, ...withoutTemperature } = body;
    expect(() => validateRequest({ ...withoutTemperature, top_k: 5 }, '2027-01-01')).toThrow(/^top_k: /);
    expect(validateRequest(body, '2023-06-01').model).toBe('m');
    expect(validateRequest(body).model).toBe('m');
  });

  it('rejects duplicate tool names, tools without a schema and a non-boolean stream', () => {
    expect(
      invalid({
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'x' }],
        tools: [tools[0], tools[0]],
      }),
    ).toBe('tools: Tool names must be unique.');
    expect(
      invalid({
        model: 'm',
        max_tokens: 1,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ name: 'a' }],
      }),
    ).toMatch(/^tools\.0\.custom\.input_schema/);
    expect(
      invalid({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], stream: 'yes' }),
    ).toMatch(/^stream: /);
  });
});

describe('viewOf', () => {
  const conversation = req({
    system: [{ type: 'text', text: 'You are Otto.' }],
    tools,
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'first question?' }] },
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'hub_search', input: { query: 'q' } }],
      },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_1',
            content: [{ type: 'text', text: 'found it' }],
            is_error: true,
          },
        ],
      },
    ],
  });

  it('derives the turn, the latest user text, tool results and offered tools', () => {
    const v = viewOf(conversation);
    expect(v.turn).toBe(2);
    expect(v.system).toBe('You are Otto.');
    expect(v.userText).toBe('first question?');
    expect(v.firstUserText).toBe('first question?');
    expect(v.toolResults).toEqual([
      { toolUseId: 'toolu_1', name: 'hub_search', content: 'found it', isError: true },
    ]);
    expect(v.offeredTools).toEqual(['hub_post', 'hub_search']);
    expect(v.called).toEqual(['hub_search']);
    expect(viewOf({ ...conversation, tool_choice: { type: 'none' } }).offeredTools).toEqual([]);
  });

  it('counts input tokens deterministically, growing with the conversation', () => {
    const a = countInputTokens(conversation);
    expect(countInputTokens(conversation)).toBe(a);
    const longer = {
      ...conversation,
      messages: [...conversation.messages, { role: 'assistant' as const, content: 'more words here' }],
    };
    expect(countInputTokens(longer)).toBeGreaterThan(a);
    expect(countInputTokens({ ...conversation, tools: [] })).toBeLessThan(a);
  });
});

describe('templates', () => {
  it('substitutes variables with fallbacks', () => {
    expect(renderTemplate('hi {{ name }}, {{missing|friend}}{{gone}}!', { name: 'Otto' })).toBe(
      'hi Otto, friend!',
    );
    expect(firstQuestion('Hello there. Do otters sleep? Yes.')).toBe('Do otters sleep?');
    expect(firstQuestion('no question')).toBeUndefined();
  });

  it('drops an input key whose whole value is an undefined variable', () => {
    expect(
      renderInput({ post_id: '{{post_id}}', content: 'x {{post_id}}', nested: [{ a: '{{v}}' }] }, { v: '1' }),
    ).toEqual({
      content: 'x ',
      nested: [{ a: '1' }],
    });
  });
});

describe('decide', () => {
  const script = parseScenario({
    name: 't',
    vars: {
      pid: { from: 'first_user', pattern: 'post (\\w+)' },
      none: { from: 'user', pattern: 'title:(?:"(\\w+)"|null)' },
    },
    rules: [
      { name: 'final', when: { tools: false }, reply: { text: 'final {{pid}}' } },
      { name: 'needs-missing-tool', reply: { toolCalls: [{ name: 'hub_get_thread', input: {} }] } },
      { name: 'second', when: { turn: { min: 2 } }, reply: { text: 'turn {{turn}}' } },
      {
        name: 'greet',
        when: { user: 'hello (?<who>\\w+)', vars: { pid: '^p' } },
        reply: { toolCalls: [{ name: 'hub_post', input: { post_id: '{{pid}}', content: 'hi {{who}}' } }] },
      },
    ],
    fallback: { text: 'nothing for {{user}}' },
  });

  it('takes the first matching rule, with script vars and named groups in its templates', () => {
    const d = decide(
      script,
      viewOf(req({ tools, messages: [{ role: 'user', content: 'hello Otto about post p1 title:null' }] })),
    );
    expect(d.rule).toBe('greet');
    expect(d.toolCalls).toEqual([{ name: 'hub_post', input: { post_id: 'p1', content: 'hi Otto' } }]);
    expect(d.vars.none).toBeUndefined();
  });

  it('skips rules that call a tool the request does not offer, and rules whose conditions fail', () => {
    expect(decide(script, viewOf(req({ messages: [{ role: 'user', content: 'post p1' }] }))).rule).toBe(
      'final',
    );
    const noPid = decide(script, viewOf(req({ tools, messages: [{ role: 'user', content: 'hello Otto' }] })));
    expect(noPid.rule).toBe('fallback');
    expect(noPid.text).toBe('nothing for hello Otto');
  });

  it('matches turn ranges', () => {
    const d = decide(
      script,
      viewOf(
        req({
          tools,
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
            { role: 'user', content: 'c' },
          ],
        }),
      ),
    );
    expect(d).toMatchObject({ rule: 'second', text: 'turn 2' });
  });
});

describe('compileRegex', () => {
  it('takes /pattern/flags and stays stateless across requests even with g', () => {
    const re = compileRegex('/OTTO/gi');
    expect(re.test('otto')).toBe(true);
    expect(compileRegex('/OTTO/gi').test('otto')).toBe(true);
    expect(compileRegex('^a.c$').test('abc')).toBe(true);
  });
});

describe('scenario loading', () => {
  it('loads the demo persona script', () => {
    const demo = loadScenarioFile(demoScenarioPath());
    expect(demo.name).toBe('demo-persona');
    expect(demo.rules.length).toBeGreaterThan(5);
  });

  it.each([
    ['rules: [{ when: { usr: "x" }, reply: { text: y } }]', /rules\.0\.when: .*usr/],
    [
      'rules: [{ when: { user: "(" }, reply: { text: y } }]',
      /rules\.0\.when\.user: invalid regular expression/,
    ],
    ['rules: [{ reply: {} }]', /rules\.0\.reply: a reply needs text, toolCalls or a fault/],
    ['rules: [{ reply: { fault: { kind: "418" } } }]', /rules\.0\.reply\.fault\.kind/],
    ['rules: [ {', /not valid YAML or JSON/],
    ['{"rules": 3}', /rules: /],
  ])('rejects %s with the field path', (text, message) => {
    expect(() => parseScenarioText(text, 'bad.yaml')).toThrow(ScenarioError);
    expect(() => parseScenarioText(text, 'bad.yaml')).toThrow(message);
  });
});
