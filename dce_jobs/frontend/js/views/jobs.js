// The job list: AppName filter, search, and the actions of each job.
import { api } from '../api.js';
import { formatTime, h, replace } from '../dom.js';
import { alertBox, button, spinner, toast } from '../ui.js';
import { openJobForm } from './form.js';
import { deleteJob, editJob, jobHref, startJob } from './actions.js';

// Kept across visits so coming back from a job shows the same filter.
const state = { app: '', query: '' };
const knownApps = new Set();

export function renderJobs(root) {
  let jobs = [];
  let alive = true;
  const appSelect = h('select', { 'data-testid': 'app-filter', 'aria-label': '按应用过滤' });
  const search = h('input', {
    type: 'search',
    value: state.query,
    placeholder: '搜索作业名称、服务或命令',
    'data-testid': 'job-search',
    'aria-label': '搜索',
  });
  const body = h('div', { class: 'card' }, spinner());
  const count = h('span', { class: 'muted', 'data-testid': 'job-count' });

  appSelect.addEventListener('change', () => {
    state.app = appSelect.value;
    load();
  });
  search.addEventListener('input', () => {
    state.query = search.value;
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
    h(
      'div',
      { class: 'toolbar' },
      h('label', { class: 'inline' }, '应用', appSelect),
      search,
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
    const shown = jobs.filter(matches);
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
    replace(
      body,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table', 'data-testid': 'job-table' },
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
    return h(
      'tr',
      { 'data-testid': 'job-row', 'data-job-id': job.JobId, 'data-job-name': job.Name },
      h('td', {}, h('a', { href: jobHref(job.JobId), 'data-testid': 'job-link', class: 'strong' }, job.Name)),
      h('td', {}, job.AppName),
      h('td', { class: 'mono' }, job.ServiceName),
      h('td', {}, h('code', { class: 'cmd', title: job.Cmd }, job.Cmd)),
      h(
        'td',
        { class: 'nowrap' },
        last ? [formatTime(last), h('span', { class: 'muted' }, ` · 共 ${job.Executors.length} 次`)] : h('span', { class: 'muted' }, '未执行'),
      ),
      h(
        'td',
        { class: 'actions' },
        button('执行', () => startJob(job), { kind: 'link', small: true, testid: 'start-job' }),
        button('编辑', async () => (await editJob(job)) && load(), { kind: 'link', small: true, testid: 'edit-job' }),
        button('删除', async () => (await deleteJob(job)) && load(), {
          kind: 'link-danger',
          small: true,
          testid: 'delete-job',
        }),
      ),
    );
  }

  async function create() {
    const saved = await openJobForm(null, { AppName: state.app });
    if (saved) {
      toast(`作业「${saved.Name}」已创建`);
      load();
    }
  }

  fillApps();
  load();
  return () => {
    alive = false;
  };
}
