// One job: its definition, actions, schedules, and the history of its executions (newest first, filtered and paged).
import { api } from '../api.js';
import { formatTime, h, replace } from '../dom.js';
import { userText } from '../listing.js';
import { describeRolling } from '../rolling.js';
import { effectiveTimeout, serverDefaults } from '../timeout.js';
import { alertBox, button, spinner, warningBox } from '../ui.js';
import { deleteJob, editJob, startJob } from './actions.js';
import { historyCard, jobPageHref } from './history.js';
import { listHref } from './jobs.js';
import { schedulesCard } from './schedules.js';

export function renderJob(root, { jobId, query = new URLSearchParams() }) {
  let alive = true;
  let warnings = null; // of the last edit made here, shown until the next one
  // Kept across redraws of the job (an edit): its filters and page are the URL's.
  const runs = historyCard(jobId, query);
  replace(root, spinner());

  async function load() {
    try {
      const job = await api.getJob(jobId);
      if (alive) draw(job);
    } catch (err) {
      if (alive) replace(root, crumbs(null), alertBox(err, 'job-error'));
    }
  }

  function draw(job) {
    replace(
      root,
      crumbs(job),
      h(
        'div',
        { class: 'page-head' },
        h('div', {}, h('h1', { 'data-testid': 'job-title' }, job.Name), h('p', { class: 'muted' }, `应用 ${job.AppName}`)),
        h(
          'div',
          { class: 'btn-row' },
          button('执行', () => startJob(job), { kind: 'primary', testid: 'start-job' }),
          button('编辑', async () => edited(await editJob(job)), { testid: 'edit-job' }),
          button('删除', async () => (await deleteJob(job)) && (location.hash = listHref()), {
            kind: 'danger-outline',
            testid: 'delete-job',
          }),
        ),
      ),
      warnings && warnings.length ? warningBox(warnings) : null,
      h('section', { class: 'card' }, h('h2', {}, '作业配置'), definition(job)),
      schedulesCard(job),
      runs.el,
    );
  }

  function edited(job) {
    if (!job) return;
    warnings = job.Warnings || null;
    load();
  }

  load();
  return {
    update: (next) => runs.update(next),
    cleanup() {
      alive = false;
      runs.stop();
    },
  };
}

function definition(job) {
  const timeout = h('span', { 'data-testid': 'job-timeout-value' }, effectiveTimeout(job.Timeout, null));
  if (job.Timeout === null || job.Timeout === undefined) {
    serverDefaults().then((d) => (timeout.textContent = effectiveTimeout(job.Timeout, d)));
  }
  const item = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
  const list = (values) => (values.length ? h('div', { class: 'mono' }, values.map((v) => h('div', {}, v))) : '—');
  return h(
    'dl',
    { class: 'props', 'data-testid': 'job-definition' },
    item('服务', h('span', { class: 'mono' }, job.ServiceName)),
    item('命令', h('code', { class: 'cmd-block' }, job.Cmd)),
    item('用户', job.User || '默认'),
    item('特权模式', job.Privileged ? '是' : '否'),
    item('超时', timeout),
    item('分批执行', h('span', { 'data-testid': 'job-rolling-value' }, describeRolling(job))),
    item('环境变量', list(job.Env)),
    item('加密参数', job.SecretArgs.length ? h('span', { class: 'mono' }, job.SecretArgs.join(' ')) : '—'),
    job.CreateTime ? item('创建', h('span', { 'data-testid': 'job-created' }, who(job.CreatedBy, job.CreateTime))) : null,
    job.UpdateTime ? item('修改', h('span', { 'data-testid': 'job-updated' }, who(job.UpdatedBy, job.UpdateTime))) : null,
  );
}

function who(user, seconds) {
  return `${formatTime(seconds)}${user ? `，${userText(user)}` : ''}`;
}

export function crumbs(job, tail) {
  return h(
    'nav',
    { class: 'crumbs', 'aria-label': '导航' },
    h('a', { href: listHref(), 'data-testid': 'back-to-jobs' }, '作业'),
    job ? [h('span', {}, '/'), tail ? h('a', { href: jobPageHref(job.JobId), 'data-testid': 'back-to-job' }, job.Name) : h('span', {}, job.Name)] : null,
    tail ? [h('span', {}, '/'), h('span', {}, tail)] : null,
  );
}
