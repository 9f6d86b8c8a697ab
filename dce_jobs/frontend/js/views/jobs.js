// The job list: AppName filter, search and order, kept in the URL (#/?app=&q=&sort=), and each job's actions.
import { api } from '../api.js';
import { formatTime, h, replace } from '../dom.js';
import { alertBox, button, spinner, toast, warningBox } from '../ui.js';
import { openJobForm } from './form.js';
import { deleteJob, editJob, jobHref, startJob } from './actions.js';

const knownApps = new Set();
let lastHash = '#/';

/** The list as it was last shown (its filter, search and order), for links back to it. */
export function listHref() {
  return lastHash;
}

const SORTS = {
  created: { label: '最新创建', order: (jobs) => [...jobs].reverse() }, // the API lists oldest first
  run: {
    label: '最近执行',
    order: (jobs) => [...jobs].reverse().sort((a, b) => lastRun(b) - lastRun(a)),
  },
  name: { label: '名称', order: (jobs) => [...jobs].sort((a, b) => a.Name.localeCompare(b.Name, 'zh-CN')) },
};

function lastRun(job) {
  const last = job.Executors[job.Executors.length - 1];
  return last ? Number(last) : 0;
}

/** The list's state from the URL's query (empty values left out). */
function readState(query) {
  const sort = query.get('sort') || 'created';
  return { app: query.get('app') || '', query: query.get('q') || '', sort: SORTS[sort] ? sort : 'created' };
}

// replaceState, not a new hash: typing in the search box must neither re-render the page nor fill the history.
function writeState(state) {
  const params = new URLSearchParams();
  if (state.app) params.set('app', state.app);
  if (state.query) params.set('q', state.query);
  if (state.sort !== 'created') params.set('sort', state.sort);
  const text = params.toString();
  lastHash = `#/${text ? `?${text}` : ''}`;
  history.replaceState(history.state, '', lastHash);
}

export function renderJobs(root, { query = new URLSearchParams() } = {}) {
  const state = readState(query);
  writeState(state);
  let jobs = [];
  let alive = true;
  const appSelect = h('select', { 'data-testid': 'app-filter', 'aria-label': '按应用过滤' });
  const sortSelect = h(
    'select',
    { 'data-testid': 'job-sort', 'aria-label': '排序', class: 'sort-select' },
    Object.entries(SORTS).map(([value, s]) => h('option', { value }, s.label)),
  );
  sortSelect.value = state.sort;
  const search = h('input', {
    type: 'search',
    value: state.query,
    placeholder: '搜索作业名称、服务或命令',
    'data-testid': 'job-search',
    'aria-label': '搜索',
  });
  const body = h('div', { class: 'card flush' }, spinner());
  const count = h('span', { class: 'muted', 'data-testid': 'job-count' });
  const notice = h('div', {});

  appSelect.addEventListener('change', () => {
    state.app = appSelect.value;
    writeState(state);
    load();
  });
  sortSelect.addEventListener('change', () => {
    state.sort = sortSelect.value;
    writeState(state);
    draw();
  });
  search.addEventListener('input', () => {
    state.query = search.value;
    writeState(state);
    draw();
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
      h('label', { class: 'inline' }, '排序', sortSelect),
      h('span', { class: 'grow' }),
      count,
      button('刷新', () => load(), { testid: 'refresh-jobs' }),
    ),
    body,
  );

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

  async function load() {
    try {
      const list = await api.listJobs(state.app);
      if (!alive) return;
      jobs = list;
      if (!state.app) {
        knownApps.clear();
      }
      jobs.forEach((j) => knownApps.add(j.AppName));
      fillApps();
      draw();
    } catch (err) {
      if (alive) replace(body, alertBox(err, 'jobs-error'));
    }
  }

  function matches(job) {
    const q = state.query.trim().toLowerCase();
    if (!q) return true;
    return [job.Name, job.AppName, job.ServiceName, job.Cmd].some((v) => (v || '').toLowerCase().includes(q));
  }

  function draw() {
    const shown = SORTS[state.sort].order(jobs.filter(matches));
    count.textContent = `共 ${shown.length} 个作业`;
    if (!jobs.length) {
      replace(
        body,
        h(
          'div',
          { class: 'empty', 'data-testid': 'jobs-empty' },
          h('p', {}, state.app ? `应用 ${state.app} 还没有作业` : '还没有作业'),
          button('创建作业', create, { kind: 'primary' }),
        ),
      );
      return;
    }
    if (!shown.length) {
      replace(body, h('div', { class: 'empty', 'data-testid': 'jobs-empty' }, '没有匹配的作业'));
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
          h('colgroup', {}, col('c-name'), col('c-app'), col('c-service'), col('c-cmd'), col('c-last'), col('c-actions')),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['作业名称', '应用', '服务', '命令', '最近执行'].map((t) => h('th', {}, t)),
              h('th', { class: 'actions' }, '操作'),
            ),
          ),
          h('tbody', {}, shown.map(row)),
        ),
      ),
    );
  }

  function row(job) {
    const last = job.Executors[job.Executors.length - 1];
    const cut = (text, extra = {}) => h('div', { class: 'cut', title: text, ...extra }, text);
    return h(
      'tr',
      { 'data-testid': 'job-row', 'data-job-id': job.JobId, 'data-job-name': job.Name },
      h('td', {}, h('a', { href: jobHref(job.JobId), 'data-testid': 'job-link', class: 'strong cut', title: job.Name }, job.Name)),
      h('td', {}, cut(job.AppName)),
      h('td', {}, cut(job.ServiceName, { class: 'cut mono' })),
      h('td', {}, h('code', { class: 'cmd cut', title: job.Cmd }, job.Cmd)),
      h(
        'td',
        { class: 'nowrap' },
        last
          ? [h('div', {}, formatTime(last)), h('div', { class: 'muted small' }, `共 ${job.Executors.length} 次`)]
          : h('span', { class: 'muted' }, '未执行'),
      ),
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

  fillApps();
  load();
  return () => {
    alive = false;
  };
}
