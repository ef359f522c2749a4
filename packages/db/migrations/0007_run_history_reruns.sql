CREATE TABLE "flow_runs" (
	"flow_id" text NOT NULL,
	"run" integer NOT NULL,
	"status" text NOT NULL,
	"definition" jsonb NOT NULL,
	"executed_by" text,
	"only_step_id" text,
	"input" text,
	"rerun_of" integer,
	"rerun_from_step" text,
	"total_cost" double precision NOT NULL,
	"total_tokens" bigint NOT NULL,
	"result" jsonb,
	"error" jsonb,
	"queued_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	CONSTRAINT "flow_runs_flow_id_run_pk" PRIMARY KEY("flow_id","run"),
	CONSTRAINT "flow_runs_status_check" CHECK (status in ('pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'timed_out'))
);
--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "run_definition" jsonb;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "rerun_of" integer;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "rerun_from_step" text;--> statement-breakpoint
ALTER TABLE "step_results" ADD COLUMN "reused_from" integer;--> statement-breakpoint
ALTER TABLE "flow_runs" ADD CONSTRAINT "flow_runs_flow_id_flows_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flows"("id") ON DELETE cascade ON UPDATE no action;