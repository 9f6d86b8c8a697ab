// Entry point: hash routes, the token prompt and the header.
import { getToken, onTokenChange, setToken, setTokenPrompt } from './js/api.js';
import { h, replace } from './js/dom.js';
import { button, toast } from './js/ui.js';
import { renderExecution } from './js/views/execution.js';
import { renderJob } from './js/views/job.js';
import { renderJobs } from './js/views/jobs.js';
import { askForToken } from './js/views/token.js';

const ROUTES = [
  [/^#\/jobs\/([^/]+)\/executions\/([^/]+)$/, (root, m) => renderExecution(root, { jobId: m[1], executorId: m[2] })],
  [/^#\/jobs\/([^/]+)$/, (root, m) => renderJob(root, { jobId: m[1] })],
  [/^#?\/?$/, (root) => renderJobs(root)],
];

const main = document.getElementById('main');
let cleanup = null;

function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const hash = location.hash || '#/';
  for (const [pattern, render] of ROUTES) {
    const m = pattern.exec(hash);
    if (m) {
      const params = m.map((part, i) => (i ? decodeURIComponent(part) : part));
      cleanup = render(main, params) || null;
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
