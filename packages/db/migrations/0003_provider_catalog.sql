CREATE TABLE "provider_workers" (
	"worker_id" text NOT NULL,
	"provider" text NOT NULL,
	"models" text[],
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "provider_workers_worker_id_provider_pk" PRIMARY KEY("worker_id","provider")
);
--> statement-breakpoint
CREATE TABLE "providers" (
	"key" text PRIMARY KEY NOT NULL,
	"models" text[],
	"limits" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "provider_workers" ADD CONSTRAINT "provider_workers_provider_providers_key_fk" FOREIGN KEY ("provider") REFERENCES "public"."providers"("key") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "provider_workers_heartbeat_idx" ON "provider_workers" USING btree ("provider","heartbeat_at");