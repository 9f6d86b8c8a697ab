// One job: its definition, actions, and the history of its executions (newest first).
import { api } from '../api.js';
import { formatTime, h, replace } from '../dom.js';
import { describeRolling } from '../rolling.js';
import { summarize } from '../status.js';
import { effectiveTimeout, serverDefaults } from '../timeout.js';
import { alertBox, badge, button, spinner, warningBox } from '../ui.js';
import { deleteJob, editJob, executionHref, startJob } from './actions.js';
import { listHref } from './jobs.js';
import { schedulesCard } from './schedules.js';

const PAGE = 20;
// Each summary costs one inspect call, so only the newest few get one.
const SUMMARIZED = 10;

export function renderJob(root, { jobId }) {
  let alive = true;
  let shown = PAGE;
  let warnings = null; // of the last edit made here, shown until the next one
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
    const history = [...job.Executors].reverse();
    const rows = h('tbody', {});
    const more = h('div', { class: 'more' });
    const drawRows = () => {
      replace(rows, history.slice(0, shown).map((id, i) => historyRow(job, id, history.length - i, i < SUMMARIZED)));
      replace(
        more,
        history.length > shown
          ? button(`显示更多（还有 ${history.length - shown} 条）`, () => {
              shown += PAGE;
              drawRows();
            })
          : null,
      );
    };
    drawRows();
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
      h(
        'section',
        { class: 'card' },
        h('h2', {}, '执行历史', h('span', { class: 'muted count' }, `共 ${history.length} 次`)),
        history.length
          ? h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'table', 'data-testid': 'history-table' },
                h('thead', {}, h('tr', {}, ['序号', '开始时间', '执行 ID', '结果', ''].map((t) => h('th', {}, t)))),
                rows,
              ),
              more,
            )
          : h('div', { class: 'empty', 'data-testid': 'history-empty' }, '还没有执行过'),
      ),
    );
  }

  function historyRow(job, executorId, number, summarized) {
    const result = h('td', { 'data-testid': 'history-result' }, summarized ? h('span', { class: 'muted' }, '…') : '—');
    if (summarized) {
      api
        .inspect(job.JobId, executorId)
        .then((ex) => {
          const { counts, overall } = summarize(ex.Result || [], ex.State);
          const parts = [
            counts.ok && `${counts.ok} 成功`,
            counts.fail && `${counts.fail} 失败`,
            counts.stopped && `${counts.stopped} 已停止`,
            counts.running && `${counts.running} 执行中`,
          ].filter(Boolean);
          replace(result, badge(overall), h('span', { class: 'muted' }, ` ${parts.join(' · ')}`));
        })
        .catch(() => replace(result, h('span', { class: 'muted' }, '无法获取')));
    }
    const href = executionHref(job.JobId, executorId);
    return h(
      'tr',
      { 'data-testid': 'history-row', 'data-executor-id': executorId },
      h('td', {}, `#${number}`),
      h('td', {}, h('a', { href }, formatTime(executorId))),
      h('td', { class: 'mono muted' }, executorId),
      result,
      h('td', { class: 'actions' }, h('a', { href, class: 'btn btn-link btn-sm', 'data-testid': 'open-execution' }, '查看')),
    );
  }

  function edited(job) {
    if (!job) return;
    warnings = job.Warnings || null;
    load();
  }

  load();
  return () => {
    alive = false;
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
  );
}

export function crumbs(job, tail) {
  return h(
    'nav',
    { class: 'crumbs', 'aria-label': '导航' },
    h('a', { href: listHref(), 'data-testid': 'back-to-jobs' }, '作业'),
    job ? [h('span', {}, '/'), tail ? h('a', { href: `#/jobs/${encodeURIComponent(job.JobId)}`, 'data-testid': 'back-to-job' }, job.Name) : h('span', {}, job.Name)] : null,
    tail ? [h('span', {}, '/'), h('span', {}, tail)] : null,
  );
}
