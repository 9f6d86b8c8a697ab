// One execution: a row per target container, refreshed until every target is final.
import { api } from '../api.js';
import { formatTime, h, replace, shortId } from '../dom.js';
import { describe } from '../errors.js';
import { detail, endReason, isFinal, outcome, statusText, summarize } from '../status.js';
import { formatTimeout } from '../timeout.js';
import { alertBox, badge, button, confirmBox, spinner, toast } from '../ui.js';
import { executionHref, startJob } from './actions.js';
import { crumbs } from './job.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 8000;

export function renderExecution(root, { jobId, executorId }) {
  let alive = true;
  let timer = null;
  let lastBody = '';
  let failures = 0;
  let generation = 0; // bumped by refresh(): answers of older polls are dropped
  const open = new Set(); // containers whose output is unfolded, kept across refreshes
  const hostnames = new Map();
  let job = null;

  const status = h('span', { 'data-testid': 'execution-status' });
  const pollState = h('span', { class: 'muted poll', 'data-testid': 'poll-state' });
  const facts = h('dl', { class: 'facts' });
  const warn = h('div', {});
  const notice = h('div', {}); // outcome of stop / retry, kept across polls
  const stopBtn = button('停止', stop, { kind: 'danger-outline', testid: 'stop-execution' });
  const retryBtn = button('重试失败的容器', retry, {
    testid: 'retry-failed',
    title: '在未以退出码 0 结束的容器上重新执行',
  });
  stopBtn.hidden = true;
  retryBtn.hidden = true;
  const rows = h('tbody', {});
  replace(root, spinner());

  async function init() {
    try {
      job = await api.getJob(jobId);
    } catch (err) {
      if (alive) replace(root, crumbs(null), alertBox(err, 'execution-error'));
      return;
    }
    if (!alive) return;
    replace(
      root,
      crumbs(job, `执行 ${formatTime(executorId)}`),
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          {},
          h('h1', {}, '执行详情 ', status),
          h('p', { class: 'muted' }, `作业 ${job.Name} · 服务 `, h('span', { class: 'mono' }, job.ServiceName), ' · ', pollState),
        ),
        h(
          'div',
          { class: 'btn-row' },
          button('下载全部日志', () => save(null), { testid: 'download-all' }),
          stopBtn,
          retryBtn,
          button('再次执行', () => startJob(job), { kind: 'primary', testid: 'start-again' }),
        ),
      ),
      warn,
      notice,
      h('section', { class: 'card' }, facts),
      h(
        'section',
        { class: 'card flush' },
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table results', 'data-testid': 'result-table' },
            h('colgroup', {}, ['r-node', 'r-container', 'r-status', 'r-exit', 'r-preview', 'r-actions'].map((c) => h('col', { class: c }))),
            h('thead', {}, h('tr', {}, ['节点', '容器', '状态', '退出码', '详情（最新一行）'].map((t) => h('th', {}, t)), h('th', { class: 'actions' }, '操作'))),
            rows,
          ),
        ),
      ),
    );
    // Hostnames are a nicety: without them the NodeId is shown.
    api
      .containers(job.ServiceName)
      .then((list) => {
        list.forEach((c) => c.NodeHostname && hostnames.set(c.NodeId, c.NodeHostname));
        lastBody = '';
        if (alive && lastData) draw(lastData);
      })
      .catch(() => {});
    poll();
  }

  let lastData = null;

  /** Inspect now, dropping whatever poll is pending or in flight. */
  function refresh() {
    generation += 1;
    if (timer) clearTimeout(timer);
    poll();
  }

  async function poll() {
    timer = null;
    const mine = generation;
    let data;
    try {
      data = await api.inspect(jobId, executorId);
      if (mine !== generation) return;
      failures = 0;
      replace(warn);
    } catch (err) {
      if (!alive || mine !== generation) return;
      if (err.status === 404 || err.status === 401) {
        replace(warn, alertBox(err, 'execution-error'));
        pollState.textContent = '已停止刷新';
        return;
      }
      failures += 1;
      replace(warn, alertBox(err, 'execution-error'));
      timer = setTimeout(poll, Math.min(POLL_MS * 2 ** failures, MAX_BACKOFF_MS));
      return;
    }
    if (!alive) return;
    show(data);
    const results = data.Result || [];
    if (results.length && results.every(isFinal)) {
      pollState.textContent = '执行已结束';
      pollState.dataset.state = 'done';
    } else {
      pollState.textContent = '执行中，自动刷新…';
      pollState.dataset.state = 'polling';
      timer = setTimeout(poll, POLL_MS);
    }
  }

  function show(data) {
    lastData = data;
    const body = JSON.stringify(data);
    if (body !== lastBody) {
      lastBody = body;
      draw(data);
    }
  }

  async function stop() {
    const ok = await confirmBox({
      title: '停止执行',
      message: '确定停止本次执行吗？运行中的命令会被终止并记为已停止，尚未开始的容器不再执行。',
      confirmText: '停止',
      danger: true,
    });
    if (!ok || !alive) return;
    replace(notice);
    stopBtn.disabled = true;
    stopBtn.textContent = '正在停止…';
    try {
      // Answers once the execs are terminated, with the statuses they ended in.
      const data = await api.stopExecution(jobId, executorId);
      if (!alive) return;
      show(data);
      toast('已停止执行');
    } catch (err) {
      if (!alive) return;
      replace(notice, alertBox(err, 'action-message'));
    } finally {
      stopBtn.disabled = false;
      stopBtn.textContent = '停止';
    }
    if (alive) refresh();
  }

  async function retry() {
    replace(notice);
    retryBtn.disabled = true;
    retryBtn.textContent = '正在重试…';
    try {
      const updated = await api.retryExecution(jobId, executorId);
      if (!alive) return;
      toast('已在失败的容器上重新执行');
      location.hash = executionHref(jobId, updated.Executors[updated.Executors.length - 1]);
    } catch (err) {
      if (!alive) return;
      const box = alertBox(err, 'action-message');
      if (err.id === 'nothing_to_retry') {
        // Not a failure: the execution is fine as it is.
        box.className = 'alert alert-info';
        box.textContent = '没有需要重试的容器：本次执行的每个容器都已成功结束（退出码 0）。';
      }
      replace(notice, box);
      // What is shown may be out of date (e.g. retried elsewhere): show what the server has now.
      refresh();
    } finally {
      retryBtn.disabled = false;
      retryBtn.textContent = '重试失败的容器';
    }
  }

  function draw(data) {
    const results = data.Result || [];
    const { counts, overall } = summarize(results, data.State);
    const done = results.length > 0 && results.every(isFinal);
    replace(status, badge(overall, 'execution-badge'));
    stopBtn.hidden = done;
    // The server retries every target that did not end with exit code 0: stopped ones too.
    retryBtn.hidden = !(done && counts.fail + counts.stopped > 0);
    const fact = (label, value) => h('div', {}, h('dt', {}, label), h('dd', {}, value));
    replace(
      facts,
      fact('执行 ID', h('span', { class: 'mono' }, data.ExecutorId || executorId)),
      fact('开始时间', formatTime(data.CreateTime ?? executorId)),
      fact('目标容器', `${results.length} 个`),
      fact('成功', h('span', { class: 'text-ok' }, String(counts.ok))),
      fact('失败', h('span', { class: 'text-fail' }, String(counts.fail))),
      counts.stopped ? fact('已停止', h('span', { 'data-testid': 'stopped-count' }, String(counts.stopped))) : null,
      fact('执行中', String(counts.running)),
      // The run's own timeout: the job's, the start request's, or the server's default when neither set one.
      fact('超时', h('span', { 'data-testid': 'execution-timeout' }, data.Timeout == null ? '不限' : formatTimeout(data.Timeout))),
    );
    replace(rows, results.map(resultRows));
  }

  function resultRows(r) {
    const d = detail(r);
    const expanded = open.has(r.ContainerId);
    const reason = endReason(r);
    const line = d.kind === 'error' ? firstLine(d.text) : latestLine(d.text);
    const preview =
      d.kind === 'error'
        ? [
            h('span', { class: reason && reason.tone === 'stopped' ? 'muted' : 'text-fail' }, reason ? reason.why : '执行失败'),
            line ? h('span', { class: 'muted mono', 'data-testid': 'result-e' }, ` ${line}`) : null,
          ]
        : line
          ? h('span', { class: 'mono', 'data-testid': 'result-preview-line' }, line)
          : h('span', { class: 'muted' }, isFinal(r) ? '（无输出）' : statusText(r));
    const toggle = button(expanded ? '收起' : d.kind === 'error' ? '查看错误' : '查看输出', () => {
      if (open.has(r.ContainerId)) open.delete(r.ContainerId);
      else open.add(r.ContainerId);
      lastBody = '';
      draw(lastData);
    }, { kind: 'link', small: true, testid: 'toggle-output' });
    const main = h(
      'tr',
      { 'data-testid': 'result-row', 'data-container-id': r.ContainerId, 'data-status': r.Status || '' },
      h(
        'td',
        { title: r.NodeId },
        h('div', { class: 'cut' }, hostnames.get(r.NodeId) || h('span', { class: 'mono' }, shortId(r.NodeId, 25))),
        hostnames.get(r.NodeId) ? h('div', { class: 'mono muted small cut' }, shortId(r.NodeId, 25)) : null,
      ),
      h('td', { class: 'mono', title: r.ContainerId }, shortId(r.ContainerId)),
      h('td', { class: 'nowrap' }, badge(outcome(r), 'result-status'), h('div', { class: 'muted small' }, statusText(r))),
      h('td', { 'data-testid': 'result-exit-code', class: 'mono' }, r.ExitCode ?? '—'),
      h('td', { class: 'preview', title: line }, h('div', { class: 'cut' }, preview)),
      h(
        'td',
        { class: 'actions' },
        toggle,
        button('下载', () => save(r.ContainerId), { kind: 'link', small: true, testid: 'download-log' }),
      ),
    );
    if (!expanded) return [main];
    return [main, detailRow(r, d)];
  }

  function detailRow(r, d) {
    const notes = [];
    if (r.OutputTail) notes.push('只显示最后 64 KiB，完整输出请下载日志。');
    if (r.OutputTruncated) notes.push('输出超过服务端的保存上限，已被截断。');
    const block = (label, text, testid, cls = '') =>
      h('div', { class: 'output' }, h('div', { class: 'output-label' }, label), h('pre', { class: cls, 'data-testid': testid }, text || '（空）'));
    return h(
      'tr',
      { class: 'detail-row', 'data-testid': 'result-detail', 'data-container-id': r.ContainerId },
      h(
        'td',
        { colspan: 6 },
        d.kind === 'error' && endReason(r) ? h('p', { class: 'reason', 'data-testid': 'result-reason' }, endReason(r).why) : null,
        d.kind === 'error' ? block('错误信息（服务端原文）', d.text, 'result-error', 'pre-error') : null,
        d.kind === 'error' && d.output ? block('输出', d.output, 'result-output') : null,
        d.kind === 'output' ? block('输出', d.text, 'result-output') : null,
        notes.map((n) => h('p', { class: 'muted small' }, n)),
      ),
    );
  }

  async function save(containerId) {
    try {
      const name = await api.download(jobId, executorId, containerId || undefined);
      toast(`已下载 ${name}`);
    } catch (err) {
      toast(describe(err), 'error');
    }
  }

  init();
  return () => {
    alive = false;
    if (timer) clearTimeout(timer);
  };
}

function firstLine(text) {
  return (text || '').split('\n').find((l) => l.trim()) || '';
}

/** The output's newest line: the last one that is not blank, whole (never a cut in the middle of a line). */
export function latestLine(text) {
  const lines = (text || '').split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) if (lines[i].trim()) return lines[i].replace(/\r$/, '');
  return '';
}
