-- Parallel steps end without their flow's row lock: a step's spend goes on its own instance (a run's
-- spend is the sum over its instances), and the flow records which state of the run was last
-- claimed for advancing (see endStepWrites and claimRunAdvance).
ALTER TABLE "flows" ADD COLUMN "advance_claim" text;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "spent_tokens" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "spent_cost" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Instances recorded before this migration: their latest attempt's spend (earlier attempts of a
-- retried instance are in usage_ledger only, and count no more toward a run still in progress).
UPDATE "step_results" SET "spent_tokens" = coalesce(("usage"->>'totalTokens')::bigint, 0), "spent_cost" = coalesce("cost", 0)
WHERE "usage" IS NOT NULL OR "cost" IS NOT NULL;
