-- A planning round computed before its flow was locked is applied only if the run is still
-- what it saw (sendGuardedPlan); otherwise the statement fails with this error, which rolls
-- the transaction back so the worker plans again under the lock. SQLSTATE EN001.
CREATE FUNCTION ensemble_stale_plan() RETURNS integer
  LANGUAGE plpgsql VOLATILE
  AS $$
BEGIN
  RAISE EXCEPTION 'stale plan: the run changed since this plan was made' USING ERRCODE = 'EN001';
END;
$$;
