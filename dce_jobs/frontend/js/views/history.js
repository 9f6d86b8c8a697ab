// A job's executions, newest first (GET /api/jobs/{JobId}/executors): state and start time filters, paged; kept in
// the job page's URL (#/jobs/ID?state=&from=&to=&page=&size=). While an execution on the page runs, the page is asked
// for again every few seconds.
import { api } from '../api.js';
import { formatTime, h, replace } from '../dom.js';
import {
  anyRunning,
  countsText,
  entryDuration,
  hashOf,
  pageFoot,
  pageLoader,
  readRunState,
  runFilters,
  runsFiltered,
  sizeChoice,
  startedBy,
  stateBadge,
  tickDurations,
  timeText,
  triggerText,
} from '../listing.js';
import { alertBox, button, spinner } from '../ui.js';
import { executionHref, jobHref } from './actions.js';

const PAGE_SIZE = 20;
const TICK_MS = 1000;
let lastShown = { jobId: null, hash: '' };

/** The job's page as its history was last shown (filters and page), for links back to it from its executions. */
export function jobPageHref(jobId) {
  return lastShown.jobId === jobId ? lastShown.hash : jobHref(jobId);
}

/** The history card of job `jobId`: { el, update(query), refresh(), stop() }. */
export function historyCard(jobId, query) {
  let state = readRunState(query, PAGE_SIZE);
  let stopped = false;
  const path = jobHref(jobId);
  const hrefOf = (s, page = s.page) =>
    hashOf(path, {
      state: s.state,
      from: s.from,
      to: s.to,
      page: page > 1 ? page : '',
      size: s.size !== PAGE_SIZE ? s.size : '',
    });
  const filters = runFilters('history', () => apply());
  const sizes = sizeChoice('history-page-size', (size) => go({ ...state, size, page: 1 }));
  const count = h('span', { class: 'muted count', 'data-testid': 'history-count' });
  const body = h('div', { 'data-testid': 'history-body' }, spinner());
  const foot = h('div', {});
  const el = h(
    'section',
    { class: 'card', 'data-testid': 'history-card' },
    h('h2', {}, '执行历史', count),
    h(
      'div',
      { class: 'toolbar filters' },
      filters.controls,
      button('清除筛选', () => go({ ...readRunState(new URLSearchParams(), PAGE_SIZE), size: state.size }), {
        kind: 'link',
        small: true,
        testid: 'history-clear',
      }),
      h('span', { class: 'grow' }),
      button('刷新', () => load(), { small: true, testid: 'history-refresh' }),
    ),
    body,
    foot,
  );

  function apply() {
    go({ ...state, ...filters.read(), page: 1 });
  }

  // A new hash, so Back returns to the filter or page before; the job page hands it back through update().
  function go(next) {
    const target = hrefOf(next);
    if (target === location.hash) load();
    else location.hash = target;
  }

  const loadPage = pageLoader({
    fetch: () =>
      api.jobExecutions(jobId, {
        State: state.state,
        CreatedAfter: state.from,
        CreatedBefore: state.to,
        Page: state.page,
        Size: state.size,
      }),
    position: () => state,
    live: () => !stopped,
    toPage: (pages) => {
      state = { ...state, page: pages };
      history.replaceState(history.state, '', hrefOf(state));
      load();
    },
    show: draw,
    fail: (err) => {
      replace(body, alertBox(err, 'history-error'));
      replace(foot);
    },
    refreshWhile: anyRunning,
    marker: body,
  });

  function load() {
    lastShown = { jobId, hash: hrefOf(state) };
    return loadPage();
  }

  function draw(items, total) {
    const filtered = runsFiltered(state);
    count.textContent = filtered ? `符合条件 ${total} 次` : `共 ${total} 次`;
    replace(foot, pageFoot(sizes.control, { ...state, total, unit: '次', hrefOf: (n) => hrefOf(state, n) }));
    if (!items.length) {
      replace(body, h('div', { class: 'empty', 'data-testid': 'history-empty' }, filtered ? '没有符合条件的执行' : '还没有执行过'));
      return;
    }
    replace(
      body,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table history-table', 'data-testid': 'history-table' },
          h('colgroup', {}, ['h-start', 'h-result', 'h-trigger', 'h-by', 'h-end', 'h-duration', 'h-actions'].map((c) => h('col', { class: c }))),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['开始时间 / 执行 ID', '结果', '触发', '执行人', '结束时间', '耗时'].map((t) => h('th', {}, t)),
              h('th', { class: 'actions' }, ''),
            ),
          ),
          h('tbody', {}, items.map(row)),
        ),
      ),
    );
  }

  function row(entry) {
    const href = executionHref(jobId, entry.ExecutorId);
    return h(
      'tr',
      { 'data-testid': 'history-row', 'data-executor-id': entry.ExecutorId },
      h(
        'td',
        {},
        h('a', { href }, formatTime(entry.CreateTime ?? entry.ExecutorId)),
        h('div', { class: 'mono muted small cut', title: entry.ExecutorId }, entry.ExecutorId),
      ),
      h(
        'td',
        { 'data-testid': 'history-result' },
        stateBadge(entry.State, entry.Counts),
        h('span', { class: 'muted small' }, ` ${countsText(entry.Counts, entry.Targets)}`),
      ),
      h('td', { 'data-testid': 'history-trigger', 'data-trigger': entry.Trigger }, triggerText(entry.Trigger)),
      h('td', {}, startedBy(entry.StartedBy, 'history-started-by')),
      h('td', { class: 'nowrap', 'data-testid': 'history-end' }, timeText(entry.EndTime)),
      h('td', { class: 'nowrap' }, entryDuration(entry, 'history-duration')),
      h('td', { class: 'actions' }, h('a', { href, class: 'btn btn-link btn-sm', 'data-testid': 'open-execution' }, '查看')),
    );
  }

  const ticker = setInterval(() => tickDurations(body), TICK_MS);
  filters.show(state);
  sizes.show(state.size);
  load();
  return {
    el,
    update(next) {
      state = readRunState(next, PAGE_SIZE);
      filters.show(state);
      sizes.show(state.size);
      load();
    },
    refresh: () => load(),
    stop() {
      stopped = true;
      clearInterval(ticker);
      loadPage.stop();
    },
  };
}
