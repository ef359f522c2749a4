export const usd = (value: number | null | undefined): string =>
  value === null || value === undefined ? "—" : `$${value < 0.01 && value > 0 ? value.toFixed(6) : value.toFixed(4)}`;

export const duration = (from: string | null, to: string | null): string => {
  if (!from) return "—";
  const ms = (to ? Date.parse(to) : Date.now()) - Date.parse(from);
  return ms < 1_000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1_000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
};

export const when = (iso: string | null): string => (iso ? new Date(iso).toLocaleString() : "—");
