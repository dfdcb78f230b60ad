/**
 * The Hub tool registry is the one place a Hub tool is declared: the native tool specs and the Hub
 * MCP server's tools (listed through the MCP SDK's own client) are the same set with the same input
 * schemas, for every grant set; the CLI executors' endpoint lists the same names.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { describe, expect, it } from 'vitest';
import {
  HUB_TOOLS,
  HUB_TOOL_NAMES,
  HubToolInputError,
  hubTool,
  hubToolOfCall,
  hubToolSpecs,
  hubToolsFor,
} from '../../lib/hub-tools';
import type { HubApi } from '../../mcp/hub-server';
import { createHubMcpServer } from '../../mcp/hub-server';

const unused = (): Promise<never> => Promise.reject(new Error('not called in this test'));
const hub: HubApi = {
  search: unused,
  getPost: unused,
  getNotifications: unused,
  getBudgetHealth: unused,
  discoverFeed: unused,
  createPost: unused,
  createComment: unused,
};

async function listMcpTools(o: { readOnly?: boolean; tools?: readonly string[] } = {}) {
  const server = createHubMcpServer({ hub, agentId: 'a1', ...o });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'parity-test', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  try {
    return (await client.listTools()).tools;
  } finally {
    await client.close();
    await server.close();
  }
}

describe('the Hub tool registry', () => {
  it('offers the original vocabulary and keeps the hub_* names as aliases of existing tools', () => {
    expect(HUB_TOOL_NAMES).toEqual(
      expect.arrayContaining([
        'create_post',
        'create_comment',
        'search',
        'get_post',
        'get_thread',
        'get_comments',
        'get_community',
        'get_community_posts',
        'get_budget_health',
        'get_notifications',
        'hub_post',
        'hub_search',
        'hub_get_thread',
        'hub_get_notifications',
      ]),
    );
    expect(new Set(HUB_TOOL_NAMES).size).toBe(HUB_TOOL_NAMES.length);
    for (const t of HUB_TOOLS.filter((x) => x.aliasOf)) {
      expect(hubTool(t.aliasOf!), t.name).toBeDefined();
      expect(t.name.startsWith('hub_'), t.name).toBe(true);
    }
    // Compositions say how they are made; every tool names its Hub calls.
    for (const t of HUB_TOOLS) expect(t.calls.length, t.name).toBeGreaterThan(0);
    expect(hubTool('get_community')!.composition).toMatch(/discover feed/);
    expect(hubTool('get_community_posts')!.composition).toMatch(/discover feed/);
    expect(hubTool('get_comments')!.composition).toMatch(/include_comments/);
  });

  it.each([
    ['no hub grant', [] as string[]],
    ['hub:*', ['hub:*']],
    ['hub:read', ['hub:read']],
    ['hub:read and hub:write', ['hub:read', 'hub:write']],
  ])('native specs and the MCP server list the same tools and schemas (%s)', async (_label, grants) => {
    const native = hubToolSpecs(grants);
    const served = await listMcpTools({ tools: hubToolsFor(grants).map((t) => t.name) });
    expect(served.map((t) => t.name).sort()).toEqual(native.map((t) => t.name).sort());
    for (const spec of native) {
      const mcp = served.find((t) => t.name === spec.name)!;
      const schema = spec.input_schema as { properties: Record<string, unknown>; required?: string[] };
      expect(Object.keys(mcp.inputSchema.properties ?? {}).sort(), spec.name).toEqual(
        Object.keys(schema.properties).sort(),
      );
      expect((mcp.inputSchema.required ?? []).sort(), spec.name).toEqual((schema.required ?? []).sort());
      expect(mcp.description, spec.name).toBe(spec.description);
      expect(mcp.annotations?.readOnlyHint, spec.name).toBe(hubTool(spec.name)!.posts === undefined);
    }
  });

  it('lists every tool on a full MCP server, and no posting tool on a read-only one', async () => {
    expect((await listMcpTools()).map((t) => t.name).sort()).toEqual([...HUB_TOOL_NAMES].sort());
    const readOnly = (await listMcpTools({ readOnly: true })).map((t) => t.name);
    expect(readOnly.sort()).toEqual(
      hubToolsFor(['hub:read'])
        .map((t) => t.name)
        .sort(),
    );
    expect(readOnly).not.toContain('create_post');
  });

  it('takes get_notifications limit in both the native spec and the MCP server (the drift it had)', async () => {
    const spec = hubToolSpecs([]).find((t) => t.name === 'hub_get_notifications')!;
    expect(Object.keys((spec.input_schema as { properties: object }).properties)).toEqual(['limit']);
    const served = (await listMcpTools()).find((t) => t.name === 'hub_get_notifications')!;
    expect(Object.keys(served.inputSchema.properties ?? {})).toEqual(['limit']);
  });

  it('runs the Hub MCP server posting tools natively in the loop, and only those', () => {
    expect(hubToolOfCall('create_post')?.name).toBe('create_post');
    expect(hubToolOfCall('mcp_hub_create_post')?.name).toBe('create_post');
    expect(hubToolOfCall('mcp_hub_create_comment')?.name).toBe('create_comment');
    expect(hubToolOfCall('mcp_hub_hub_post')?.name).toBe('hub_post');
    expect(hubToolOfCall('mcp_hub_search')).toBeUndefined();
    expect(hubToolOfCall('mcp_github_create_issue')).toBeUndefined();
    expect(HUB_TOOLS.filter((t) => t.posts).map((t) => t.name)).toEqual([
      'create_post',
      'create_comment',
      'hub_post',
    ]);
  });

  it('validates input against the zod schema with the field and the rule', async () => {
    const ctx = { agentId: 'a1', hub, publish: unused };
    await expect(hubTool('create_comment')!.call({ content: 'x' }, ctx)).rejects.toThrow(HubToolInputError);
    await expect(hubTool('create_comment')!.call({ content: 'x' }, ctx)).rejects.toThrow(/post_id/);
    await expect(hubTool('search')!.call({ query: 'q', limit: 500 }, ctx)).rejects.toThrow(/limit/);
  });

  it('posts through the caller: a comment with post_id, a post without', async () => {
    const made: unknown[] = [];
    const ctx = {
      agentId: 'a1',
      hub,
      publish: (p: unknown) => {
        made.push(p);
        return Promise.resolve({ kind: 'comment' as const, id: 'c1' });
      },
    };
    expect(await hubTool('create_comment')!.call({ post_id: 'p1', content: 'hi' }, ctx)).toEqual({
      kind: 'comment',
      id: 'c1',
      post_id: 'p1',
    });
    await hubTool('hub_post')!.call({ content: 'new', title: 'T' }, ctx);
    expect(made).toEqual([
      { content: 'hi', postId: 'p1' },
      { content: 'new', postId: undefined, title: 'T', community: undefined },
    ]);
  });
});
