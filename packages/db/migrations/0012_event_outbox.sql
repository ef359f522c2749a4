CREATE TABLE "flow_event_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"flow_id" text NOT NULL,
	"type" text NOT NULL,
	"step_id" text,
	"data" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "flow_event_outbox_flow_idx" ON "flow_event_outbox" USING btree ("flow_id","id");