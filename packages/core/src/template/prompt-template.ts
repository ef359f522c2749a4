/**
 * Prompt templates: literal text with `{{ path }}` placeholders and nothing else —
 * no expressions, no helpers, no code — so a stored definition can never run code.
 * `\{{` writes a literal `{{`.
 */

import { FLOW_LIMITS } from "../schema/limits.js";

export type TemplatePart = { kind: "text"; text: string } | { kind: "placeholder"; path: string[]; raw: string };

export interface ParsedTemplate {
  parts: TemplatePart[];
}

export class TemplateSyntaxError extends Error {
  override readonly name = "TemplateSyntaxError";
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
  }
}

const PATH_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/;

export function parseTemplate(source: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  let text = "";
  let i = 0;
  while (i < source.length) {
    if (source.startsWith("\\{{", i)) {
      text += "{{";
      i += 3;
      continue;
    }
    if (!source.startsWith("{{", i)) {
      text += source[i];
      i += 1;
      continue;
    }
    const end = source.indexOf("}}", i + 2);
    if (end < 0) throw new TemplateSyntaxError(`unclosed "{{" at character ${i + 1}`, i);
    const raw = source.slice(i + 2, end).trim();
    if (!PATH_PATTERN.test(raw)) {
      throw new TemplateSyntaxError(
        `"{{ ${raw} }}" at character ${i + 1} is not a placeholder; use a name such as {{ previous }} or {{ steps.<id>.output }}`,
        i,
      );
    }
    if (text) parts.push({ kind: "text", text });
    text = "";
    parts.push({ kind: "placeholder", path: raw.split("."), raw });
    i = end + 2;
  }
  if (text) parts.push({ kind: "text", text });
  return { parts };
}

/** Every placeholder path in a template, in order of appearance. */
export function listPlaceholders(template: ParsedTemplate): string[][] {
  return template.parts.flatMap((part) => (part.kind === "placeholder" ? [part.path] : []));
}

/** A rendered prompt would be longer than `FLOW_LIMITS.maxRenderedPromptChars`. */
export class PromptTooLargeError extends Error {
  override readonly name = "PromptTooLargeError";
  constructor(readonly limit: number) {
    super(`the rendered prompt is over the limit of ${limit} characters (maxRenderedPromptChars)`);
  }
}

/**
 * Renders a template; `resolve` returns the text for a path (validated beforehand, so never
 * unknown). The length is summed before the text is joined: a prompt placing a large value
 * many times fails with PromptTooLargeError instead of building a string of hundreds of MB.
 */
export function renderTemplate(
  template: ParsedTemplate,
  resolve: (path: string[]) => string,
  maxChars: number = FLOW_LIMITS.maxRenderedPromptChars,
): string {
  const pieces: string[] = [];
  let chars = 0;
  for (const part of template.parts) {
    const piece = part.kind === "text" ? part.text : resolve(part.path);
    chars += piece.length;
    if (chars > maxChars) throw new PromptTooLargeError(maxChars);
    pieces.push(piece);
  }
  return pieces.join("");
}
