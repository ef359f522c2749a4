ALTER TABLE "flows" DROP CONSTRAINT "flows_status_check";--> statement-breakpoint
ALTER TABLE "step_results" DROP CONSTRAINT "step_results_status_check";--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "approval_prompt" text;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "step_results_waiting_idx" ON "step_results" USING btree ("expires_at") WHERE status = 'waiting';--> statement-breakpoint
ALTER TABLE "flows" ADD CONSTRAINT "flows_status_check" CHECK (status in ('pending', 'queued', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'));--> statement-breakpoint
ALTER TABLE "step_results" ADD CONSTRAINT "step_results_status_check" CHECK (status in ('pending', 'running', 'waiting', 'success', 'failed', 'skipped', 'cancelled'));--> statement-breakpoint
ALTER TABLE "flow_runs" DROP CONSTRAINT "flow_runs_status_check";--> statement-breakpoint
ALTER TABLE "flow_runs" ADD CONSTRAINT "flow_runs_status_check" CHECK (status in ('pending', 'queued', 'running', 'waiting', 'completed', 'failed', 'cancelled', 'timed_out'));