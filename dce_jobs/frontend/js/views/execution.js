// One execution: a row per target container, refreshed until every target is final.
import { api } from '../api.js';
import { formatTime, h, replace, shortId } from '../dom.js';
import { describe } from '../errors.js';
import { describeRolling, formatDuration } from '../rolling.js';
import { detail, endReason, isFinal, outcome, statusText, summarize } from '../status.js';
import { formatTimeout } from '../timeout.js';
import { alertBox, badge, button, confirmBox, modal, spinner, toast } from '../ui.js';
import { executionHref, startJob } from './actions.js';
import { crumbs } from './job.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 8000;
const TICK_MS = 1000; // running durations grow between polls too

// The summary's Counts, in the order a rollout goes through them.
const COUNTS = [
  ['waiting', '等待'],
  ['running', '运行'],
  ['succeeded', '成功'],
  ['failed', '失败'],
  ['stopped', '已停止'],
];

export function renderExecution(root, { jobId, executorId }) {
  let alive = true;
  let timer = null;
  let ticker = null;
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
  const resumeBtn = button('继续', resume, {
    kind: 'primary',
    testid: 'resume-execution',
    title: '开始执行等待中的容器',
  });
  const pausedNote = h('div', {});
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
      pausedNote,
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
            h('colgroup', {}, ['r-node', 'r-container', 'r-status', 'r-exit', 'r-time', 'r-preview', 'r-actions'].map((c) => h('col', { class: c }))),
            h('thead', {}, h('tr', {}, ['节点', '容器', '状态', '退出码', '耗时', '详情（最新一行）'].map((t) => h('th', {}, t)), h('th', { class: 'actions' }, '操作'))),
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
    ticker = setInterval(tick, TICK_MS);
    poll();
  }

  let lastData = null;

  function tick() {
    const now = Date.now() / 1000;
    for (const el of root.querySelectorAll('[data-since]')) el.textContent = formatDuration(now - Number(el.dataset.since));
  }

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

  /** Which targets a retry takes (those that did not end with exit code 0), asked before anything starts. */
  async function confirmRetry() {
    const chosen = ((lastData && lastData.Result) || []).filter((r) => isFinal(r) && outcome(r).tone !== 'ok');
    const pin = h('input', { type: 'checkbox', 'data-testid': 'retry-pin' });
    const where = (r) => hostnames.get(r.NodeId) || shortId(r.NodeId, 12);
    const body = h(
      'div',
      {},
      h('p', { class: 'confirm-text' }, `将在新的一次执行中重试以下 ${chosen.length} 个未以退出码 0 结束的容器：`),
      h(
        'ul',
        { class: 'retry-list' },
        chosen.map((r) =>
          h(
            'li',
            { 'data-testid': 'retry-target', 'data-container-id': r.ContainerId },
            h('span', { class: 'mono' }, shortId(r.ContainerId)),
            ` · ${where(r)}`,
            r.Slot != null ? ` · 任务槽位 ${r.Slot}` : '',
            ` · ${outcome(r).label}（${statusText(r)}）`,
          ),
        ),
      ),
      h(
        'p',
        { class: 'muted small', 'data-testid': 'retry-slots-note' },
        '默认在每个容器所属 Swarm 任务槽位的当前任务中执行：若 Swarm 已替换了该任务，就在新的容器中执行（旧容器 ID 会记录下来）；槽位没有运行中的任务时，该容器直接记为失败。',
      ),
      h('label', { class: 'check' }, pin, ' 仍在原来的容器中执行（不跟随任务槽位）'),
    );
    const cancel = button('取消', () => dlg.close(false), { testid: 'confirm-cancel' });
    const ok = button('重试', () => dlg.close(true), { kind: 'primary', testid: 'confirm-ok' });
    const dlg = modal({ title: '重试失败的容器', body, actions: [cancel, ok], testid: 'confirm-dialog' });
    cancel.focus();
    if (!(await dlg.closed)) return null;
    return pin.checked ? { FollowSlots: false } : undefined;
  }

  async function resume() {
    replace(notice);
    resumeBtn.disabled = true;
    try {
      const data = await api.resumeExecution(jobId, executorId);
      if (!alive) return;
      show(data);
      toast('已继续执行');
    } catch (err) {
      if (!alive) return;
      replace(notice, alertBox(err, 'action-message'));
    } finally {
      resumeBtn.disabled = false;
    }
    if (alive) refresh();
  }

  async function retry() {
    const options = await confirmRetry();
    if (options === null || !alive) return;
    replace(notice);
    retryBtn.disabled = true;
    retryBtn.textContent = '正在重试…';
    try {
      const updated = await api.retryExecution(jobId, executorId, options);
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
    const fact = (label, value, testid) => h('div', { 'data-testid': testid }, h('dt', {}, label), h('dd', {}, value));
    // The server's Counts; an older server sends none: counted here from the statuses.
    const tally = data.Counts || {
      waiting: 0,
      running: counts.running,
      succeeded: counts.ok,
      failed: counts.fail,
      stopped: counts.stopped,
    };
    const started = Number(data.CreateTime ?? executorId);
    const cls = { succeeded: 'text-ok', failed: 'text-fail', waiting: 'count-waiting', stopped: 'count-stopped' };
    replace(
      facts,
      fact('执行 ID', h('span', { class: 'mono' }, data.ExecutorId || executorId)),
      data.RetryOf
        ? fact(
            '重试自',
            h('a', { href: executionHref(jobId, data.RetryOf), 'data-testid': 'retry-of-link', title: data.RetryOf }, `执行 ${formatTime(data.RetryOf)}`),
          )
        : null,
      data.RetriedBy
        ? fact(
            '已重试为',
            h('a', { href: executionHref(jobId, data.RetriedBy), 'data-testid': 'retried-by-link', title: data.RetriedBy }, `执行 ${formatTime(data.RetriedBy)}`),
          )
        : null,
      data.RetryAttempt ? fact('自动重试', `第 ${data.RetryAttempt} 次`, 'retry-attempt') : null,
      data.Params && Object.keys(data.Params).length
        ? fact(
            '参数',
            h('span', { class: 'mono' }, Object.entries(data.Params).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')),
            'execution-params',
          )
        : null,
      (data.HookDeliveries || []).length ? fact('状态通知', hookSummary(data.HookDeliveries), 'hook-deliveries') : null,
      fact('开始时间', formatTime(started)),
      fact('结束时间', h('span', { 'data-testid': 'execution-end' }, data.EndTime ? formatTime(data.EndTime) : '—')),
      fact('耗时', duration(started, data.EndTime, 'execution-duration', !done)),
      fact('目标容器', `${results.length} 个`),
      COUNTS.map(([key, label]) =>
        fact(
          label,
          h('span', { class: cls[key], 'data-testid': key === 'stopped' ? 'stopped-count' : null }, String(tally[key] ?? 0)),
          `count-${key}`,
        ),
      ),
      // The run's own timeout: the job's, the start request's, or the server's default when neither set one.
      fact('超时', h('span', { 'data-testid': 'execution-timeout' }, data.Timeout == null ? '不限' : formatTimeout(data.Timeout))),
      'Parallelism' in data ? fact('分批执行', h('span', { 'data-testid': 'execution-rolling' }, describeRolling(data))) : null,
    );
    resumeBtn.hidden = data.State !== 'paused';
    replace(
      pausedNote,
      data.State === 'paused'
        ? h(
            'div',
            { class: 'alert alert-paused', role: 'status', 'data-testid': 'paused-note' },
            h(
              'div',
              {},
              h('div', { class: 'alert-title' }, '执行已暂停'),
              h(
                'div',
                { class: 'small' },
                `失败的容器超过了容忍比例（失败处理：暂停）。运行中的容器会执行完；其余 ${tally.waiting ?? 0} 个等待中的容器在点击「继续」后开始。`,
              ),
            ),
            resumeBtn,
          )
        : null,
    );
    replace(rows, results.map((r) => resultRows(r, data)));
  }

  /** A duration; while `live` (still running) it grows with every tick. */
  function duration(from, to, testid, live) {
    if (!from || (!to && !live)) return h('span', { class: 'muted', 'data-testid': testid }, '—');
    const end = to || Date.now() / 1000;
    return h(
      'span',
      { 'data-testid': testid, 'data-since': live && !to ? String(from) : null },
      formatDuration(end - from),
    );
  }

  function resultRows(r, data) {
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
          : h('span', { class: 'muted' }, isFinal(r) ? '（无输出）' : rowStatus(r, data));
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
      h(
        'td',
        { class: 'mono', title: r.ContainerId },
        h('div', { class: 'cut' }, shortId(r.ContainerId)),
        r.Slot != null ? h('div', { class: 'muted small', 'data-testid': 'result-slot' }, `槽位 ${r.Slot}`) : null,
        r.PreviousContainerId
          ? h(
              'div',
              {
                class: 'muted small cut',
                'data-testid': 'result-previous',
                title: `Swarm 已替换该槽位的任务，旧容器 ${r.PreviousContainerId}`,
              },
              `旧容器 ${shortId(r.PreviousContainerId, 8)}…`,
            )
          : null,
      ),
      h(
        'td',
        { class: 'nowrap' },
        badge(waiting(r, data) ? { label: '等待中', tone: 'muted' } : outcome(r), 'result-status'),
        h('div', { class: 'muted small' }, waiting(r, data) ? '尚未开始' : rowStatus(r, data)),
      ),
      h('td', { 'data-testid': 'result-exit-code', class: 'mono' }, r.ExitCode ?? '—'),
      h(
        'td',
        { class: 'nowrap', title: times(r) },
        r.StartTime
          ? [
              duration(r.StartTime, r.EndTime, 'result-duration', !isFinal(r)),
              h('div', { class: 'muted small', 'data-testid': 'result-start' }, clock(r.StartTime)),
            ]
          : h('span', { class: 'muted', 'data-testid': 'result-duration' }, '—'),
      ),
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
        { colspan: 7 },
        r.PreviousContainerId
          ? h(
              'p',
              { class: 'muted', 'data-testid': 'result-replaced' },
              `Swarm 已替换任务槽位 ${r.Slot ?? ''} 的任务：本次在新的任务容器中执行，旧容器 ${r.PreviousContainerId}`,
            )
          : null,
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
    if (ticker) clearInterval(ticker);
  };
}

/** A target waiting for its turn in a rolling run says so (its status stays STARTING, as the seed has it). */
function waiting(r, data) {
  return r.Status === 'STARTING' && !r.StartTime && Boolean(data && data.Counts);
}

function rowStatus(r, data) {
  return waiting(r, data) ? '等待中' : statusText(r);
}

function clock(seconds) {
  return formatTime(seconds).slice(11);
}

function times(r) {
  if (!r.StartTime) return '';
  return `开始 ${formatTime(r.StartTime)}${r.EndTime ? `，结束 ${formatTime(r.EndTime)}` : ''}`;
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

const HOOK_STATES = { pending: '重试中', done: '已送达', failed: '未送达', cancelled: '已取消' };
const HOOK_EVENTS = { start: '开始', end: '结束' };

/** One line per delivery: its event, state and attempts, the last error on hover. */
function hookSummary(deliveries) {
  return h(
    'span',
    {},
    deliveries.map((d) => {
      const last = d.Attempts[d.Attempts.length - 1];
      return h(
        'span',
        { class: 'hook-delivery', 'data-testid': 'hook-delivery', 'data-state': d.State, title: last ? last.Error : '' },
        `${HOOK_EVENTS[d.Event] || d.Event}：${HOOK_STATES[d.State] || d.State}（${d.Attempts.length} 次尝试）`,
      );
    }),
  );
}
