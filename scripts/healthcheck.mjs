// The image's HEALTHCHECK (copied into dist/ by scripts/build.mjs): exit 0 when this container's
// process answers GET /healthz. Worker and scheduler serve it on HEALTH_PORT, the API on PORT.
const port = process.env.HEALTH_PORT || process.env.PORT || "3000";
try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
