/** Per-request cap of the vendor HTTP clients; the step timeout (the call's signal) normally ends a call first. */
export const DEFAULT_VENDOR_TIMEOUT_MS = 10 * 60_000;
