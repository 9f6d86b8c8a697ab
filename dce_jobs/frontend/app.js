// Entry point: hash routes, the token prompt and the header.
import { getToken, onTokenChange, setToken, setTokenPrompt } from './js/api.js';
import { h, replace } from './js/dom.js';
import { button, closeDialogs, toast } from './js/ui.js';
import { renderActivity } from './js/views/activity.js';
import { renderExecution } from './js/views/execution.js';
import { renderJob } from './js/views/job.js';
import { renderJobs } from './js/views/jobs.js';
import { renderStats } from './js/views/stats.js';
import { askForToken } from './js/views/token.js';

// A route is the hash's path; what follows `?` (a list's filters, order and page) is the view's own state.
const ROUTES = [
  [/^#\/jobs\/([^/]+)\/executions\/([^/]+)$/, (root, m) => renderExecution(root, { jobId: m[1], executorId: m[2] })],
  [/^#\/jobs\/([^/]+)$/, (root, m, query) => renderJob(root, { jobId: m[1], query })],
  [/^#\/activity$/, (root, m, query) => renderActivity(root, { query })],
  [/^#\/stats$/, (root, m, query) => renderStats(root, { query })],
  [/^#?\/?$/, (root, m, query) => renderJobs(root, { query })],
];

const main = document.getElementById('main');
// The view shown: a render returns its cleanup, or { cleanup, update } when it can take a new query in place.
let view = { path: null, cleanup: null, update: null };

function route() {
  // Back or a link with a dialog open: the dialog belongs to the page being left.
  closeDialogs();
  const hash = location.hash || '#/';
  const cut = hash.indexOf('?');
  const path = cut < 0 ? hash : hash.slice(0, cut);
  const query = new URLSearchParams(cut < 0 ? '' : hash.slice(cut + 1));
  // Another page of a list, another filter, Back to the previous one: the same view, kept where it was scrolled.
  if (path === view.path && view.update) {
    view.update(query);
    return;
  }
  if (view.cleanup) view.cleanup();
  view = { path: null, cleanup: null, update: null };
  for (const link of document.querySelectorAll('.nav-link')) {
    if (link.getAttribute('href') === path) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  for (const [pattern, render] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      const params = m.map((part, i) => (i ? decodeURIComponent(part) : part));
      const shown = render(main, params, query);
      view = typeof shown === 'function' ? { path, cleanup: shown, update: null } : { path, cleanup: null, update: null, ...shown };
      window.scrollTo(0, 0);
      return;
    }
  }
  location.hash = '#/';
}

function tokenState() {
  const slot = document.getElementById('token-state');
  if (!getToken()) {
    replace(slot);
    return;
  }
  replace(
    slot,
    h('span', { class: 'token-pill', 'data-testid': 'token-state' }, '已使用 API 令牌'),
    button('清除', () => {
      setToken('');
      toast('已清除 API 令牌');
      route();
    }, { kind: 'link', small: true, testid: 'clear-token' }),
  );
}

setTokenPrompt(askForToken);
onTokenChange(tokenState);
tokenState();
window.addEventListener('hashchange', route);
route();
