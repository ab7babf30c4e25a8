/**
 * GET /ops: the operators' and supervisors' page. Like the analyst dashboard,
 * the page and its assets are public (they hold no data); every call it makes
 * carries the staff key typed into the page, so the API's own roles guard the
 * data and the actions (an operator's approve is refused by the API, and the
 * page shows the refusal).
 */
import { Router, type Response } from 'express';
import { methodNotAllowed } from '../problem';
import { OPS_PORTAL_CSS, OPS_PORTAL_HTML, OPS_PORTAL_JS } from './assets';

/** Scripts and styles from this origin only: no inline script can run even if data were ever rendered as HTML. */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const OPS_PORTAL_PATHS = ['/ops', '/ops/portal/portal.js', '/ops/portal/portal.css'] as const;

function secure(res: Response): Response {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  return res;
}

export function createOpsPortalRouter(): Router {
  const router = Router();
  router.get('/ops', (_req, res) => {
    secure(res).type('html').send(OPS_PORTAL_HTML);
  });
  router.get('/ops/portal/portal.js', (_req, res) => {
    secure(res).type('application/javascript').send(OPS_PORTAL_JS);
  });
  router.get('/ops/portal/portal.css', (_req, res) => {
    secure(res).type('text/css').send(OPS_PORTAL_CSS);
  });
  router.all([...OPS_PORTAL_PATHS], methodNotAllowed(['GET', 'HEAD']));
  return router;
}
