// Entry point: hash routes, the token prompt and the header.
import { getToken, onTokenChange, setToken, setTokenPrompt } from './js/api.js';
import { h, replace } from './js/dom.js';
import { button, closeDialogs, toast } from './js/ui.js';
import { renderExecution } from './js/views/execution.js';
import { renderJob } from './js/views/job.js';
import { renderJobs } from './js/views/jobs.js';
import { renderStats } from './js/views/stats.js';
import { askForToken } from './js/views/token.js';

// A route is the hash's path; what follows `?` (the list's filter and search) is the view's own state.
const ROUTES = [
  [/^#\/jobs\/([^/]+)\/executions\/([^/]+)$/, (root, m) => renderExecution(root, { jobId: m[1], executorId: m[2] })],
  [/^#\/jobs\/([^/]+)$/, (root, m) => renderJob(root, { jobId: m[1] })],
  [/^#\/stats$/, (root, m, query) => renderStats(root, { query })],
  [/^#?\/?$/, (root, m, query) => renderJobs(root, { query })],
];

const main = document.getElementById('main');
let cleanup = null;

function route() {
  // Back or a link with a dialog open: the dialog belongs to the page being left.
  closeDialogs();
  if (cleanup) cleanup();
  cleanup = null;
  const hash = location.hash || '#/';
  const cut = hash.indexOf('?');
  const path = cut < 0 ? hash : hash.slice(0, cut);
  const query = new URLSearchParams(cut < 0 ? '' : hash.slice(cut + 1));
  for (const [pattern, render] of ROUTES) {
    const m = pattern.exec(path);
    if (m) {
      const params = m.map((part, i) => (i ? decodeURIComponent(part) : part));
      cleanup = render(main, params, query) || null;
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
