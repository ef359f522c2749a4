import helmet from "helmet";

/**
 * Every response's security headers (helmet): `nosniff`, no framing (X-Frame-Options DENY
 * and frame-ancestors), and a CSP that lets nothing load, since the API answers JSON and
 * text; Bull Board's page gets its own CSP below. HSTS is helmet's default and only acts
 * where the API is served over HTTPS.
 */
export const securityHeaders = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  frameguard: { action: "deny" },
});

/**
 * The run viewer (/ui): its own scripts and styles only, and calls to this API. Inline
 * styles are set through the DOM (bar widths), which CSP allows; no inline script runs.
 */
export const runViewerContentSecurityPolicy = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});

/**
 * Bull Board's UI: its scripts, styles, images and JSON API come from its own origin. Its
 * markup and React components set inline styles, hence 'unsafe-inline' for styles only;
 * scripts stay 'self' (its one inline <script> is JSON data, which CSP does not run). The
 * Google Fonts stylesheet it links is not allowed: the page falls back to system fonts and
 * an admin's browser does not call a third party.
 */
export const queueBoardContentSecurityPolicy = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", "data:"],
    fontSrc: ["'self'", "data:"],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
  },
});
