CREATE TABLE "step_batches" (
	"id" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"state" text NOT NULL,
	"provider_batch_id" text,
	"item_count" integer NOT NULL,
	"deadline_at" timestamp with time zone NOT NULL,
	"submitted_at" timestamp with time zone,
	"polled_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "step_batches_state_check" CHECK (state in ('submitting', 'submitted', 'ended', 'cancelled', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "step_results" DROP CONSTRAINT "step_results_status_check";--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "batch_id" text;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "batch_request" jsonb;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "batched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "batch_deadline_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "batch_fallback" text;--> statement-breakpoint
CREATE INDEX "step_batches_open_idx" ON "step_batches" USING btree ("state") WHERE state in ('submitting', 'submitted');--> statement-breakpoint
ALTER TABLE "step_results" ADD CONSTRAINT "step_results_batch_id_step_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."step_batches"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "step_results_batched_idx" ON "step_results" USING btree ("provider","model","batch_deadline_at") WHERE status = 'batched';--> statement-breakpoint
ALTER TABLE "step_results" ADD CONSTRAINT "step_results_status_check" CHECK (status in ('pending', 'running', 'waiting', 'batched', 'success', 'failed', 'skipped', 'cancelled'));