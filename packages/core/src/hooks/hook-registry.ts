import type { StepContext } from "../schema/results.js";

/**
 * Where a worker process registers code by name, so that a prompt or condition written
 * as a function (`(ctx) => ...`) can still be named by a JSON definition
 * (as Temporal registers activities). A step then says `{ "hook": "name" }`.
 */
export type PromptHook = (context: StepContext) => string | Promise<string>;
export type ConditionHook = (context: StepContext) => boolean | Promise<boolean>;

/** The names a validator checks against; a worker publishes its catalog so the API can validate. */
export interface HookCatalog {
  prompts: readonly string[];
  conditions: readonly string[];
}

export class HookRegistry {
  private readonly prompts = new Map<string, PromptHook>();
  private readonly conditions = new Map<string, ConditionHook>();

  registerPrompt(name: string, hook: PromptHook): this {
    this.prompts.set(name, hook);
    return this;
  }

  registerCondition(name: string, hook: ConditionHook): this {
    this.conditions.set(name, hook);
    return this;
  }

  getPrompt(name: string): PromptHook | undefined {
    return this.prompts.get(name);
  }

  getCondition(name: string): ConditionHook | undefined {
    return this.conditions.get(name);
  }

  catalog(): HookCatalog {
    return { prompts: [...this.prompts.keys()].sort(), conditions: [...this.conditions.keys()].sort() };
  }
}
