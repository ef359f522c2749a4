CREATE TABLE "cut_off_calls" (
	"id" text PRIMARY KEY NOT NULL,
	"step_result_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"lease_token" integer NOT NULL,
	"flow_id" text NOT NULL,
	"run" integer NOT NULL,
	"user_id" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"cost" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "cut_off_calls" ADD CONSTRAINT "cut_off_calls_step_result_id_step_results_id_fk" FOREIGN KEY ("step_result_id") REFERENCES "public"."step_results"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "cut_off_calls_lease_uq" ON "cut_off_calls" USING btree ("step_result_id","lease_token");--> statement-breakpoint
CREATE INDEX "cut_off_calls_flow_idx" ON "cut_off_calls" USING btree ("flow_id");--> statement-breakpoint
CREATE INDEX "cut_off_calls_user_time_idx" ON "cut_off_calls" USING btree ("user_id","created_at");