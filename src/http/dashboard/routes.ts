/**
 * GET /dashboard: the analysts' page. The page and its assets are public (they
 * hold no data); every data call it makes carries the analyst key typed into the
 * page, so the API's own authentication guards the data. Chart.js is served from
 * the installed package: no CDN, works offline, the version the lock file pins.
 */
import { dirname, join } from 'node:path';
import { Router, type Response } from 'express';
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_JS } from './assets';
import { publicAsset } from '../docs-page';
import { methodNotAllowed } from '../problem';

/** Scripts and styles from this origin only: no inline script can run even if data were ever rendered as HTML. */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const CHART_JS_PATH = join(dirname(require.resolve('chart.js')), 'chart.umd.js');

function secure(res: Response): Response {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  return res;
}

export function createDashboardRouter(): Router {
  const router = Router();
  router.get('/dashboard', (_req, res) => {
    secure(res).type('html').send(DASHBOARD_HTML);
  });
  router.get('/dashboard/dashboard.js', (_req, res) => {
    secure(res).type('application/javascript').send(DASHBOARD_JS);
  });
  router.get('/dashboard/dashboard.css', (_req, res) => {
    secure(res).type('text/css').send(DASHBOARD_CSS);
  });
  router.get('/dashboard/chart.umd.js', publicAsset, (_req, res, next) => {
    secure(res).type('application/javascript').sendFile(CHART_JS_PATH, { maxAge: '1h' }, (error) => error && next(error));
  });
  router.all(['/dashboard', '/dashboard/dashboard.js', '/dashboard/dashboard.css', '/dashboard/chart.umd.js'], methodNotAllowed(['GET', 'HEAD']));
  return router;
}
