// The job list: app, LastRun state and name filters, order and page, asked of the server (GET /api/jobs) and kept
// in the URL (#/?app=&state=&q=&sort=&page=&size=), so reload, Back and Forward keep them; and each job's actions.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { choiceParam, hashOf, intParam, pageFoot, pageLoader, sizeChoice } from '../listing.js';
import { alertBox, button, spinner, toast, warningBox } from '../ui.js';
import { openJobForm } from './form.js';
import { deleteJob, editJob, jobHref, startJob } from './actions.js';
import { changed, lastRun } from './jobcells.js';

const PAGE_SIZE = 20;
const SEARCH_DEBOUNCE_MS = 300;
// The apps seen on any page of the list or among the swarm's services, for the app filter's choices.
const knownApps = new Set();
let servicesAsked = null;
let lastHash = '#/';

/** The list as it was last shown (its filters, order and page), for links back to it. */
export function listHref() {
  return lastHash;
}

const SORTS = {
  created: { label: '最新创建', sort: '-CreateTime' },
  updated: { label: '最近修改', sort: '-UpdateTime' },
  name: { label: '名称', sort: 'Name' },
  oldest: { label: '最早创建', sort: 'CreateTime' },
  ran: { label: '最近执行', sort: '-LastRunTime' },
  idle: { label: '最久未执行', sort: 'LastRunTime' },
};

const LAST_STATES = [
  ['running', '执行中'],
  ['succeeded', '成功'],
  ['failed', '失败'],
  ['stopped', '已停止'],
  ['never', '未执行'],
];

/** The list's state from the URL's query (anything unknown falls back to the default). */
function readState(query) {
  return {
    app: query.get('app') || '',
    query: query.get('q') || '',
    lastState: choiceParam(query, 'state', LAST_STATES.map(([value]) => value)),
    sort: choiceParam(query, 'sort', Object.keys(SORTS)) || 'created',
    page: intParam(query, 'page', 1),
    size: intParam(query, 'size', PAGE_SIZE, 500),
  };
}

function hrefOf(state, page = state.page) {
  return hashOf('#/', {
    app: state.app,
    state: state.lastState,
    q: state.query,
    sort: state.sort !== 'created' ? state.sort : '',
    page: page > 1 ? page : '',
    size: state.size !== PAGE_SIZE ? state.size : '',
  });
}

function askServices() {
  servicesAsked ??= api
    .services()
    .then((list) => list.forEach((s) => s.AppName && knownApps.add(s.AppName)))
    .catch(() => {}); // without an engine: the apps of the jobs seen
  return servicesAsked;
}

export function renderJobs(root, { query = new URLSearchParams() } = {}) {
  let state = readState(query);
  lastHash = hrefOf(state);
  let alive = true;
  let searchTimer = null;
  const appSelect = h('select', { 'data-testid': 'app-filter', 'aria-label': '按应用过滤' });
  const stateSelect = h(
    'select',
    { 'data-testid': 'job-state-filter', 'aria-label': '按最近执行结果过滤', class: 'sort-select' },
    h('option', { value: '' }, '全部'),
    LAST_STATES.map(([value, label]) => h('option', { value }, label)),
  );
  const sortSelect = h(
    'select',
    { 'data-testid': 'job-sort', 'aria-label': '排序', class: 'sort-select' },
    Object.entries(SORTS).map(([value, s]) => h('option', { value }, s.label)),
  );
  const sizes = sizeChoice('job-page-size', (size) => choose({ size }));
  const search = h('input', {
    type: 'search',
    placeholder: '搜索作业名称',
    'data-testid': 'job-search',
    'aria-label': '搜索',
  });
  const body = h('div', { class: 'card flush' }, spinner());
  const foot = h('div', {});
  const count = h('span', { class: 'muted', 'data-testid': 'job-count' });
  const notice = h('div', {});

  // A choice is a new hash (Back returns to the list before it); each starts again at page 1.
  const choose = (change) => go({ ...state, ...change, page: 1 });
  appSelect.addEventListener('change', () => choose({ app: appSelect.value }));
  stateSelect.addEventListener('change', () => choose({ lastState: stateSelect.value }));
  sortSelect.addEventListener('change', () => choose({ sort: sortSelect.value }));
  // Typing neither re-renders the page nor fills the history: the URL is replaced, the list asked again.
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state = { ...state, query: search.value.trim(), page: 1 };
      lastHash = hrefOf(state);
      history.replaceState(history.state, '', lastHash);
      load();
    }, SEARCH_DEBOUNCE_MS);
  });

  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('div', {}, h('h1', {}, '作业'), h('p', { class: 'muted' }, '在 Swarm 服务的容器中执行命令')),
      button('创建作业', create, { kind: 'primary', testid: 'create-job' }),
    ),
    notice,
    h(
      'div',
      { class: 'toolbar' },
      h('label', { class: 'inline' }, '应用', appSelect),
      search,
      h('label', { class: 'inline' }, '最近执行', stateSelect),
      h('label', { class: 'inline' }, '排序', sortSelect),
      h('span', { class: 'grow' }),
      count,
      button('刷新', () => load(), { testid: 'refresh-jobs' }),
    ),
    body,
    foot,
  );

  function go(next) {
    const target = hrefOf(next);
    if (target === (location.hash || '#/')) load();
    else location.hash = target;
  }

  /** The controls show `state` (also after Back or Forward). */
  function fill() {
    fillApps();
    stateSelect.value = state.lastState;
    sortSelect.value = state.sort;
    sizes.show(state.size);
    if (search.value.trim() !== state.query) search.value = state.query;
  }

  function fillApps() {
    const names = [...knownApps].sort((a, b) => a.localeCompare(b));
    if (state.app && !knownApps.has(state.app)) names.unshift(state.app);
    replace(
      appSelect,
      h('option', { value: '' }, '全部应用'),
      names.map((n) => h('option', { value: n }, n)),
    );
    appSelect.value = state.app;
  }

  const loadPage = pageLoader({
    fetch: () =>
      api.findJobs({
        AppName: state.app,
        LastState: state.lastState,
        Name: state.query,
        Sort: SORTS[state.sort].sort,
        Page: state.page,
        Size: state.size,
      }),
    position: () => state,
    live: () => alive,
    toPage: (pages) => {
      state = { ...state, page: pages };
      lastHash = hrefOf(state);
      history.replaceState(history.state, '', lastHash);
      load();
    },
    show: (items, total) => {
      const before = knownApps.size;
      items.forEach((j) => knownApps.add(j.AppName));
      if (knownApps.size !== before) fillApps();
      draw(items, total);
    },
    fail: (err) => {
      replace(body, alertBox(err, 'jobs-error'));
      replace(foot);
    },
  });

  function load() {
    return loadPage();
  }

  function draw(jobs, total) {
    count.textContent = `共 ${total} 个作业`;
    replace(foot, pageFoot(sizes.control, { ...state, total, unit: '个作业', hrefOf: (n) => hrefOf(state, n) }));
    if (!jobs.length) {
      const filtered = state.app || state.lastState || state.query;
      replace(
        body,
        filtered
          ? h('div', { class: 'empty', 'data-testid': 'jobs-empty' }, '没有匹配的作业')
          : h(
              'div',
              { class: 'empty', 'data-testid': 'jobs-empty' },
              h('p', {}, '还没有作业'),
              button('创建作业', create, { kind: 'primary' }),
            ),
      );
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
          { class: 'table job-table', 'data-testid': 'job-table' },
          h(
            'colgroup',
            {},
            col('c-name'),
            col('c-app'),
            col('c-cmd'),
            col('c-last'),
            col('c-updated'),
            col('c-actions'),
          ),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['作业名称', '应用 / 服务', '命令'].map((t) => h('th', {}, t)),
              lastRunHead(),
              h('th', {}, '修改'),
              h('th', { class: 'actions' }, '操作'),
            ),
          ),
          h('tbody', {}, jobs.map(row)),
        ),
      ),
    );
  }

  /** The last run column's header: a link that orders by it, newest first, then the longest without a run first. */
  function lastRunHead() {
    const sorted = { ran: 'descending', idle: 'ascending' }[state.sort];
    const next = state.sort === 'ran' ? 'idle' : 'ran';
    return h(
      'th',
      { 'aria-sort': sorted || 'none' },
      h(
        'a',
        { href: hrefOf({ ...state, sort: next, page: 1 }), class: 'th-sort', 'data-testid': 'sort-last-run', title: `按${SORTS[next].label}排序` },
        '最近执行',
        sorted ? (sorted === 'descending' ? ' ↓' : ' ↑') : '',
      ),
    );
  }

  function row(job) {
    const cut = (text, extra = {}) => h('div', { class: 'cut', title: text, ...extra }, text);
    return h(
      'tr',
      { 'data-testid': 'job-row', 'data-job-id': job.JobId, 'data-job-name': job.Name },
      h('td', {}, h('a', { href: jobHref(job.JobId), 'data-testid': 'job-link', class: 'strong cut', title: job.Name }, job.Name)),
      h('td', {}, cut(job.AppName), cut(job.ServiceName, { class: 'cut mono muted small' })),
      h('td', {}, h('code', { class: 'cmd cut', title: job.Cmd }, job.Cmd)),
      h('td', { class: 'nowrap', 'data-testid': 'job-last-run' }, lastRun(job)),
      h('td', { 'data-testid': 'job-updated' }, changed(job)),
      h(
        'td',
        { class: 'actions' },
        button('执行', () => startJob(job), { kind: 'link', small: true, testid: 'start-job' }),
        button('编辑', async () => saved(await editJob(job)), { kind: 'link', small: true, testid: 'edit-job' }),
        button('删除', async () => (await deleteJob(job)) && load(), {
          kind: 'link-danger',
          small: true,
          testid: 'delete-job',
        }),
      ),
    );
  }

  /** After a save: its warnings stay on the page until the next save or a click on them. */
  function saved(job) {
    if (!job) return;
    replace(notice);
    if (job.Warnings && job.Warnings.length) replace(notice, warningBox(job.Warnings));
    load();
  }

  async function create() {
    const job = await openJobForm(null, { AppName: state.app });
    if (job) {
      toast(`作业「${job.Name}」已创建`);
      saved(job);
    }
  }

  fill();
  load();
  askServices().then(() => alive && fillApps());
  return {
    update(query) {
      state = readState(query);
      lastHash = hrefOf(state);
      clearTimeout(searchTimer);
      fill();
      load();
    },
    cleanup() {
      alive = false;
      clearTimeout(searchTimer);
    },
  };
}
