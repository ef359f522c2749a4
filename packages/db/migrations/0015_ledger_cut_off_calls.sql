DROP INDEX "usage_ledger_attempt_uq";--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD COLUMN "cut_off_lease_token" integer;--> statement-breakpoint
CREATE UNIQUE INDEX "usage_ledger_cut_off_uq" ON "usage_ledger" USING btree ("step_result_id","cut_off_lease_token") WHERE cut_off_lease_token is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "usage_ledger_attempt_uq" ON "usage_ledger" USING btree ("step_result_id","attempt") WHERE cut_off_lease_token is null;