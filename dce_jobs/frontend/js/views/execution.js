// One execution: a row per target container, followed live through the event stream (inspect polled only when
// the stream is unavailable) until every target is final.
import { api } from '../api.js';
import { formatTime, h, replace } from '../dom.js';
import { describe } from '../errors.js';
import { startedBy, triggerText } from '../listing.js';
import { followEvents } from '../live.js';
import { describeRolling, formatDuration } from '../rolling.js';
import { isFinal, summarize } from '../status.js';
import { formatTimeout } from '../timeout.js';
import { alertBox, badge, button, confirmBox, spinner, toast } from '../ui.js';
import { executionHref, startJob } from './actions.js';
import { crumbs } from './job.js';
import { confirmRetry } from './retry.js';
import { duration, ResultRow } from './results.js';

const POLL_MS = 1000;
const MAX_BACKOFF_MS = 8000;
const TICK_MS = 1000; // running durations grow between updates too
const INSPECT_DEBOUNCE_MS = 300; // target events that come together cost one inspect
// What a target event carries, merged into the Result entry it names.
const TARGET_FIELDS = ['ContainerId', 'NodeId', 'Status', 'ExitCode', 'EndReason', 'StartTime', 'EndTime'];

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
  let failures = 0;
  let generation = 0; // bumped by refresh(): answers of older polls are dropped
  // 'events' while the stream feeds the view, 'poll' when inspect does, 'done' once nothing more can change
  let source = 'events';
  let outputFrom = 'events'; // or 'inspect' once the stream turned out unavailable
  let stopEvents = null;
  let inspectTimer = null;
  let inspecting = null; // the inspect in flight in events mode
  let changed = false; // a target event changed something inspect has not been asked about yet
  let ended = null; // the `end` event's { State, Counts }: nothing after it can change them
  const hostnames = new Map();
  let rowViews = [];
  let headKey = '';
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
        if (alive && lastData) draw(lastData);
      })
      .catch(() => {});
    ticker = setInterval(tick, TICK_MS);
    // Inspect first (the facts, slots, errors the stream does not carry), then the stream: it replays the output
    // from the start, and goes on with what happens.
    const first = await load();
    if (!alive || !first) return;
    stopEvents = followEvents(jobId, executorId, {
      onConnected: () => setPollState(),
      onEvent,
      onDropped: () => setPollState('连接中断，正在重新连接…'),
      onUnavailable: () => {
        stopEvents = null;
        if (!alive || source === 'done') return;
        source = 'poll';
        // The output comes from inspect from now on (without stdout/stderr marks).
        outputFrom = 'inspect';
        rowViews.forEach((row) => row.resetOutput());
        const results = lastData.Result || [];
        if (results.length && results.every(isFinal)) {
          draw(lastData);
          source = 'done';
          setPollState();
        } else {
          refresh();
        }
      },
    });
  }

  /** The first inspect; null (and the error shown) when it fails. */
  async function load() {
    try {
      const data = await api.inspect(jobId, executorId);
      if (!alive) return null;
      show(data);
      setPollState();
      return data;
    } catch (err) {
      if (!alive) return null;
      replace(warn, alertBox(err, 'execution-error'));
      if (err.status === 404 || err.status === 401) {
        source = 'done';
        pollState.textContent = '已停止刷新';
        return null;
      }
      source = 'poll';
      outputFrom = 'inspect';
      refresh();
      return null;
    }
  }

  function onEvent(type, data) {
    if (!alive || !lastData) return;
    const results = lastData.Result || [];
    if (type === 'output') {
      const row = rowViews[data.Index];
      if (row) row.appendOutput(data);
    } else if (type === 'target') {
      const r = results[data.Index];
      if (!r) return;
      // A final status is never taken back (an inspect answer may be older than an event).
      if (isFinal(r) && data.Status && !isFinal(data)) return;
      // At subscribe every target is sent as it is: most of them say nothing new.
      if (!TARGET_FIELDS.some((key) => key in data && (r[key] ?? null) !== (data[key] ?? null))) return;
      for (const key of TARGET_FIELDS) if (key in data) r[key] = data[key];
      changed = true;
      rowViews[data.Index].update(r, lastData);
      drawHead(lastData);
      if (isFinal(r)) inspectSoon(); // its E and exec-inspect fields come from inspect
    } else if (type === 'summary' || type === 'end') {
      if (data.State) lastData.State = data.State;
      if (data.Counts) lastData.Counts = data.Counts;
      if (type === 'end') ended = { State: lastData.State, Counts: lastData.Counts };
      drawHead(lastData);
      if (type === 'end') finish();
    }
  }

  /** The stream ended: one last inspect if anything changed since the one before, then nothing more. */
  async function finish() {
    stopEvents = null;
    if (changed || !(lastData.Result || []).every(isFinal)) {
      if (inspectTimer) clearTimeout(inspectTimer);
      await inspectNow();
    }
    if (!alive) return;
    source = 'done';
    setPollState();
  }

  function inspectSoon() {
    if (inspectTimer || source !== 'events') return;
    inspectTimer = setTimeout(() => {
      inspectTimer = null;
      inspectNow();
    }, INSPECT_DEBOUNCE_MS);
  }

  async function inspectNow() {
    if (inspecting) await inspecting.catch(() => {});
    changed = false;
    inspecting = api.inspect(jobId, executorId);
    try {
      const data = await inspecting;
      if (!alive) return;
      replace(warn);
      show(data);
    } catch (err) {
      if (alive) replace(warn, alertBox(err, 'execution-error'));
    } finally {
      inspecting = null;
    }
  }

  function setPollState(text) {
    const results = (lastData && lastData.Result) || [];
    const over = source === 'done' || (source === 'poll' && results.length && results.every(isFinal));
    pollState.dataset.source = source === 'poll' ? 'inspect' : 'events';
    if (over) {
      pollState.textContent = '执行已结束';
      pollState.dataset.state = 'done';
    } else {
      pollState.textContent = text || (source === 'poll' ? '执行中，自动刷新…' : '执行中，实时更新…');
      pollState.dataset.state = 'polling';
    }
  }

  let lastData = null;

  function tick() {
    const now = Date.now() / 1000;
    for (const el of root.querySelectorAll('[data-since]')) el.textContent = formatDuration(now - Number(el.dataset.since));
  }

  /** Inspect now, dropping whatever poll is pending or in flight. */
  function refresh() {
    if (source !== 'poll') {
      inspectNow();
      return;
    }
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
    if (results.length && results.every(isFinal)) source = 'done';
    else timer = setTimeout(poll, POLL_MS);
    setPollState();
  }

  /** An inspect answer: merged into what is shown (a final status already shown is never taken back). */
  function show(data) {
    if (lastData) {
      const before = lastData.Result || [];
      (data.Result || []).forEach((r, i) => {
        const known = before[i];
        if (known && known.ContainerId === r.ContainerId && isFinal(known) && !isFinal(r)) {
          for (const key of TARGET_FIELDS) r[key] = known[key];
        }
      });
    }
    if (ended) Object.assign(data, ended);
    lastData = data;
    draw(data);
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
    const options = await confirmRetry((lastData && lastData.Result) || [], hostnames);
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
    drawHead(data);
    const results = data.Result || [];
    const same = rowViews.length === results.length && results.every((r, i) => rowViews[i].containerId === r.ContainerId);
    if (!same) {
      rowViews.forEach((row) => row.box.reset());
      rowViews = results.map((r) => new ResultRow(r, { hostnames, save }));
      replace(rows, rowViews.map((row) => row.elements));
    }
    results.forEach((r, i) => {
      rowViews[i].update(r, data);
      if (outputFrom === 'inspect') rowViews[i].syncOutput(r);
    });
  }

  /** The badge, the buttons, the facts and the paused note: small, redrawn whole on each change. */
  function drawHead(data) {
    const results = data.Result || [];
    // Drawn again only when what it shows changed (not for output).
    const key = JSON.stringify({ ...data, Result: results.map((r) => [r.Status, r.ExitCode, r.EndReason, r.E]) });
    if (key === headKey) return;
    headKey = key;
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
      data.Trigger ? fact('触发方式', h('span', { 'data-trigger': data.Trigger }, triggerText(data.Trigger)), 'execution-trigger') : null,
      'StartedBy' in data ? fact('执行人', startedBy(data.StartedBy), 'execution-started-by') : null,
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
    if (stopEvents) stopEvents();
    if (timer) clearTimeout(timer);
    if (inspectTimer) clearTimeout(inspectTimer);
    if (ticker) clearInterval(ticker);
  };
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
