/**
 * The checks a skill file must pass before skill sync copies it into the definitions store:
 * a `.md` file of at most 100 KB, valid frontmatter (skill.schema.json), and none of a short list
 * of plainly destructive or remote-code patterns. The list is a tripwire for obvious cases, not a
 * sandbox: skills are instructions, and the workspace tools enforce their own limits.
 */
import { parseSkillMarkdown } from './skills';
import type { Skill } from './skills';

export const MAX_SKILL_BYTES = 100 * 1024;

/** Blocked patterns, each with the reason reported when a skill contains it. */
export const BLOCKED_SKILL_PATTERNS: readonly { pattern: RegExp; reason: string }[] = [
  {
    // rm -rf / , rm -fr ~ , rm -rf /* , rm -rf --no-preserve-root /
    pattern:
      /\brm\s+(?:-[a-z]*\s+)*-[a-z]*(?:r[a-z]*f|f[a-z]*r)[a-z]*\s+(?:--no-preserve-root\s+)?(?:\/|~\/?)(?:\*|\s|$|;|&|\|)/im,
    reason: 'recursive delete of / or ~ (rm -rf /)',
  },
  {
    pattern: /\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b/i,
    reason: 'downloads and pipes into a shell (curl … | sh)',
  },
  {
    pattern: /\bbase64\s+(?:-d|--decode|-D)\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b/i,
    reason: 'executes base64-decoded code (base64 -d | sh)',
  },
  {
    pattern: /\b(?:exec|eval|Function)\s*\(\s*(?:atob|base64\.b64decode|b64decode|Buffer\.from)\s*\(/,
    reason: 'executes base64-decoded code',
  },
  { pattern: /\beval\s*\(/, reason: 'uses eval(' },
  { pattern: /:\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:/, reason: 'fork bomb' },
  {
    pattern: /\b(?:mkfs(?:\.\w+)?\s+\/dev\/|dd\s+[^\n]*of=\/dev\/(?:sd|nvme|hd|xvd))/i,
    reason: 'overwrites a disk device',
  },
];

/** The first blocked pattern `text` contains, or undefined. */
export function findBlockedPattern(text: string): string | undefined {
  return BLOCKED_SKILL_PATTERNS.find((b) => b.pattern.test(text))?.reason;
}

export type SkillCheck = { ok: true; skill: Skill } | { ok: false; reason: string };

/**
 * Checks one candidate skill file. `name` is its path in the source (for the extension and the
 * messages); `size` its length in bytes; `text` its content (not needed when the size already fails).
 */
export function checkSkillFile(name: string, size: number, text: string | undefined): SkillCheck {
  const ext = /\.[^./]+$/.exec(name)?.[0] ?? '';
  if (ext.toLowerCase() !== '.md') {
    return { ok: false, reason: `extension '${ext || '(none)'}' not allowed: skills are .md files` };
  }
  if (size > MAX_SKILL_BYTES) {
    return { ok: false, reason: `${size} bytes is larger than the ${MAX_SKILL_BYTES}-byte limit (100 KB)` };
  }
  if (text === undefined) return { ok: false, reason: 'could not be read' };
  let skill: Skill;
  try {
    skill = parseSkillMarkdown(text, name);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const blocked = findBlockedPattern(text);
  if (blocked) return { ok: false, reason: `blocked content: ${blocked}` };
  return { ok: true, skill };
}
