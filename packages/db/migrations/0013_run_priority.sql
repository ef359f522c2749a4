ALTER TABLE "flow_schedules" ADD COLUMN "priority" text DEFAULT 'normal' NOT NULL;--> statement-breakpoint
ALTER TABLE "flows" ADD COLUMN "priority" text DEFAULT 'normal' NOT NULL;--> statement-breakpoint
ALTER TABLE "flow_schedules" ADD CONSTRAINT "flow_schedules_priority_check" CHECK (priority in ('high', 'normal', 'low'));--> statement-breakpoint
ALTER TABLE "flows" ADD CONSTRAINT "flows_priority_check" CHECK (priority in ('high', 'normal', 'low'));