// @ensemble/sdk — the typed client backend services use (mirrors the seed orchestratorService API); filled by the API issue.
export {};
