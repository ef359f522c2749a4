import { listPlaceholders, type ParsedTemplate } from "./prompt-template.js";

/**
 * The placeholders a prompt may use (the contract's "Flow definition language").
 * Returns a message for the first path that is not one of them, or null.
 */
export function checkPlaceholderPath(path: string[], stepIds: ReadonlySet<string>): string | null {
  const [root, ...rest] = path;
  switch (root) {
    case "original":
    case "previous":
    case "all":
    case "history":
    case "iteration":
    case "draft":
      return rest.length === 0 ? null : `{{ ${path.join(".")} }}: "${root}" has no fields`;
    case "metadata":
      return rest.length >= 1 ? null : "{{ metadata }} needs a key: {{ metadata.<key> }}";
    case "steps": {
      const [stepId, field, ...more] = rest;
      if (
        stepId === undefined ||
        field === undefined ||
        more.length > 0 ||
        (field !== "output" && field !== "status")
      ) {
        return `{{ ${path.join(".")} }}: write {{ steps.<stepId>.output }} or {{ steps.<stepId>.status }}`;
      }
      return stepIds.has(stepId) ? null : `{{ ${path.join(".")} }} names no step of this flow ("${stepId}")`;
    }
    default:
      return `{{ ${path.join(".")} }} is not a known placeholder; use original, previous, all, history, iteration, draft, metadata.<key> or steps.<id>.output`;
  }
}

/** Which kinds of shared context a template pulls in by itself. */
export interface TemplateReferences {
  original: boolean;
  stepOutputs: boolean;
  history: boolean;
  /** Uses {{ previous }} (which is the original request for a first step). */
  usesPrevious: boolean;
  stepIds: string[];
}

export function collectReferences(template: ParsedTemplate): TemplateReferences {
  const refs: TemplateReferences = {
    original: false,
    stepOutputs: false,
    history: false,
    usesPrevious: false,
    stepIds: [],
  };
  for (const [root, stepId] of listPlaceholders(template)) {
    if (root === "original") refs.original = true;
    if (root === "history") refs.history = true;
    if (root === "previous" || root === "all" || root === "draft") refs.stepOutputs = true;
    if (root === "previous") refs.usesPrevious = true;
    if (root === "steps" && stepId !== undefined) {
      refs.stepOutputs = true;
      refs.stepIds.push(stepId);
    }
  }
  return refs;
}
