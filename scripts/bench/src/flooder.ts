// The flooding client of `pnpm bench:flood`, a process of its own: FLOOD_LANES requests in
// flight to FLOOD_URL with FLOOD_KEY until its stdin closes or FLOOD_MAX_REQUESTS. Prints
// "started" once it floods, then one JSON line: { sent, seconds, statuses }.
const url = process.env.FLOOD_URL as string;
const key = process.env.FLOOD_KEY as string;
const lanes = Number(process.env.FLOOD_LANES ?? "32");
const maxRequests = Number(process.env.FLOOD_MAX_REQUESTS ?? "200000");

let flooding = true;
process.stdin.on("end", () => (flooding = false)).resume();
const statuses: Record<string, number> = {};
let sent = 0;
const started = performance.now();
const lane = async (): Promise<void> => {
  while (flooding && sent < maxRequests) {
    sent += 1;
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  }
};
process.stdout.write("started\n");
await Promise.all(Array.from({ length: lanes }, lane));
process.stdout.write(`${JSON.stringify({ sent, seconds: (performance.now() - started) / 1000, statuses })}\n`);
