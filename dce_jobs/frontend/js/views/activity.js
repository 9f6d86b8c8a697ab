// Executions across jobs, newest first (GET /api/executors): filters by app, service, state and start time, paged;
// all of it kept in the URL (#/activity?app=&service=&state=&from=&to=&page=&size=), so reload, Back and Forward keep
// it. While an execution on the page runs, the page is asked for again every few seconds.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
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

const PATH = '#/activity';
const PAGE_SIZE = 20;
const TICK_MS = 1000;

function readState(query) {
  return { app: query.get('app') || '', service: query.get('service') || '', ...readRunState(query, PAGE_SIZE) };
}

function hrefOf(state, page = state.page) {
  const { app, service, from, to, size } = state;
  return hashOf(PATH, {
    app,
    service,
    state: state.state,
    from,
    to,
    page: page > 1 ? page : '',
    size: size !== PAGE_SIZE ? size : '',
  });
}

export function renderActivity(root, { query = new URLSearchParams() } = {}) {
  let state = readState(query);
  let alive = true;
  const appInput = h('input', {
    type: 'search',
    placeholder: '全部应用',
    'data-testid': 'activity-app',
    'aria-label': '应用',
    onchange: () => apply(),
  });
  const serviceInput = h('input', {
    type: 'search',
    placeholder: '全部服务',
    'data-testid': 'activity-service',
    'aria-label': '服务',
    onchange: () => apply(),
  });
  const filters = runFilters('activity', () => apply());
  const sizes = sizeChoice('activity-page-size', (size) => go({ ...state, size, page: 1 }));
  const count = h('span', { class: 'muted', 'data-testid': 'activity-count' });
  const body = h('div', { class: 'card flush', 'data-testid': 'activity-body' }, spinner());
  const foot = h('div', {});

  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('div', {}, h('h1', {}, '执行记录'), h('p', { class: 'muted' }, '所有作业的执行，最新的在前')),
    ),
    h(
      'div',
      { class: 'toolbar filters', 'data-testid': 'activity-filters' },
      h('label', { class: 'inline' }, '应用', appInput),
      h('label', { class: 'inline' }, '服务', serviceInput),
      filters.controls,
      button('清除筛选', () => go({ ...readState(new URLSearchParams()), size: state.size }), {
        kind: 'link',
        small: true,
        testid: 'activity-clear',
      }),
      h('span', { class: 'grow' }),
      count,
      button('刷新', () => load(), { testid: 'activity-refresh' }),
    ),
    body,
    foot,
  );

  /** The controls show `state` (also after Back or Forward). */
  function fill() {
    appInput.value = state.app;
    serviceInput.value = state.service;
    filters.show(state);
    sizes.show(state.size);
  }

  // A new filter starts again at page 1; a new hash, so Back returns to the filter before.
  function apply() {
    go({ ...state, app: appInput.value.trim(), service: serviceInput.value.trim(), ...filters.read(), page: 1 });
  }

  function go(next) {
    const target = hrefOf(next);
    if (target === (location.hash || PATH)) load();
    else location.hash = target;
  }

  const loadPage = pageLoader({
    fetch: () =>
      api.executions({
        AppName: state.app,
        ServiceName: state.service,
        State: state.state,
        CreatedAfter: state.from,
        CreatedBefore: state.to,
        Page: state.page,
        Size: state.size,
      }),
    position: () => state,
    live: () => alive,
    toPage: (pages) => {
      history.replaceState(history.state, '', hrefOf(state, pages));
      state = { ...state, page: pages };
      load();
    },
    show: draw,
    fail: (err) => {
      replace(body, alertBox(err, 'activity-error'));
      replace(foot);
    },
    refreshWhile: anyRunning,
    marker: body,
  });

  function load() {
    return loadPage();
  }

  function draw(items, total) {
    count.textContent = `共 ${total} 次执行`;
    replace(foot, pageFoot(sizes.control, { ...state, total, hrefOf: (n) => hrefOf(state, n) }));
    if (!items.length) {
      const filtered = state.app || state.service || runsFiltered(state);
      replace(body, h('div', { class: 'empty', 'data-testid': 'activity-empty' }, filtered ? '没有符合条件的执行' : '还没有执行记录'));
      return;
    }
    const col = (cls) => h('col', { class: cls });
    replace(
      body,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table activity-table', 'data-testid': 'activity-table' },
          h(
            'colgroup',
            {},
            ['a-job', 'a-id', 'a-state', 'a-trigger', 'a-by', 'a-time', 'a-duration', 'a-counts'].map(col),
          ),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['作业', '执行 ID', '状态', '触发', '执行人', '开始 / 结束时间', '耗时', '结果'].map((t) => h('th', {}, t)),
            ),
          ),
          h('tbody', {}, items.map(row)),
        ),
      ),
    );
  }

  function row(entry) {
    // JobName is the job's current name, read with the page (null: the job has been deleted)
    const job =
      entry.JobName === null
        ? h('span', { class: 'muted cut', 'data-testid': 'activity-job', title: entry.JobId }, '（作业已删除）')
        : h('a', { href: jobHref(entry.JobId), class: 'strong cut', 'data-testid': 'activity-job', title: entry.JobName }, entry.JobName);
    return h(
      'tr',
      { 'data-testid': 'activity-row', 'data-job-id': entry.JobId, 'data-executor-id': entry.ExecutorId },
      h(
        'td',
        {},
        job,
        h('div', { class: 'muted small cut', title: `${entry.AppName} / ${entry.ServiceName}` }, `${entry.AppName} / ${entry.ServiceName}`),
      ),
      h(
        'td',
        {},
        h(
          'a',
          { href: executionHref(entry.JobId, entry.ExecutorId), class: 'mono cut', 'data-testid': 'activity-execution', title: entry.ExecutorId },
          entry.ExecutorId,
        ),
      ),
      h('td', {}, stateBadge(entry.State, entry.Counts, 'activity-state-badge')),
      h('td', { 'data-testid': 'activity-trigger', 'data-trigger': entry.Trigger }, triggerText(entry.Trigger)),
      h('td', {}, startedBy(entry.StartedBy, 'activity-started-by')),
      h(
        'td',
        { class: 'nowrap' },
        h('div', { 'data-testid': 'activity-start' }, timeText(entry.CreateTime)),
        h('div', { class: 'muted', 'data-testid': 'activity-end' }, timeText(entry.EndTime)),
      ),
      h('td', { class: 'nowrap' }, entryDuration(entry, 'activity-duration')),
      h('td', { class: 'small', 'data-testid': 'activity-counts' }, countsText(entry.Counts, entry.Targets)),
    );
  }

  const ticker = setInterval(() => tickDurations(body), TICK_MS);
  fill();
  load();
  return {
    update(query) {
      state = readState(query);
      fill();
      load();
    },
    cleanup() {
      alive = false;
      clearInterval(ticker);
      loadPage.stop();
    },
  };
}
