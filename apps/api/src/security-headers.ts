import helmet from 'helmet';

/**
 * helmet's headers on every answer (nosniff, frame and referrer protection, HSTS, no
 * cross-origin embedding), with a Content-Security-Policy that the console and /docs still work
 * under: every script and stylesheet is a file of this origin (Vite's build, swagger-ui's
 * bundle); styles may be inline because swagger-ui's page and the console's charts set them;
 * images may be data: URIs (swagger-ui's icons); the pages talk only to this API.
 */
export function securityHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
      },
    },
    // The console and the API answers are never framed by anyone.
    frameguard: { action: 'deny' },
  });
}
