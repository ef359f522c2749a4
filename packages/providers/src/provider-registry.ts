import { ProviderError } from "./errors/provider-error.js";
import type { ProviderAdapter } from "./provider-adapter.js";

export interface ProviderRegistryOptions {
  /** Adapters to register at once (the worker builds them from its env at boot). */
  adapters?: readonly ProviderAdapter[];
}

/** The adapters one worker process can call, by provider key. */
export class ProviderRegistry {
  private readonly adapters = new Map<string, ProviderAdapter>();

  constructor(options: ProviderRegistryOptions = {}) {
    for (const adapter of options.adapters ?? []) this.register(adapter);
  }

  /** Throws on a duplicate key: two adapters for one key is a wiring bug, and a silent replace would hide it. */
  register(adapter: ProviderAdapter): this {
    if (this.adapters.has(adapter.key)) throw new Error(`provider "${adapter.key}" is already registered`);
    this.adapters.set(adapter.key, adapter);
    return this;
  }

  /**
   * The adapter for `key`; a ProviderError `unknown_provider` (not retryable) when this process
   * has none, e.g. a flow names `anthropic` but the worker has no ANTHROPIC_API_KEY.
   */
  get(key: string): ProviderAdapter {
    const adapter = this.adapters.get(key);
    if (adapter) return adapter;
    const configured = this.keys();
    const known =
      configured.length > 0 ? `configured providers: ${configured.join(", ")}` : "no providers are configured";
    throw new ProviderError(`unknown provider "${key}"; ${known}`, { code: "unknown_provider", provider: key });
  }

  has(key: string): boolean {
    return this.adapters.has(key);
  }

  /** Registered keys, sorted, so messages and health output are stable. */
  keys(): string[] {
    return [...this.adapters.keys()].sort();
  }
}
