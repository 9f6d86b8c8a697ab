// The seed's status -> label rules for one Result entry of inspect, and end reasons in the panel's words.

export const FINAL = new Set(['CREATE_FAILED', 'RUNNING_FAILED', 'FINISHED']);

// The seed's own example has a finished entry with Status "": fall back on ExitCode then.
function statusOf(result) {
  if (result.Status) return result.Status;
  return result.ExitCode === undefined || result.ExitCode === null ? 'STARTING' : 'FINISHED';
}

export function isFinal(result) {
  return FINAL.has(statusOf(result));
}

// EndReason (the server's fixed vocabulary) -> what the panel says. `stopped` is a deliberate act, not a failure.
const REASONS = {
  exited: { text: '已结束', why: '命令已退出' },
  not_started: { text: '未开始', why: '命令没有开始执行' },
  create_failed: { text: '创建失败', why: '无法在容器中创建命令（容器可能已停止或已删除）' },
  start_failed: { text: '启动失败', why: '命令无法启动（例如命令不存在或没有权限）' },
  stopped: { text: '已停止', why: '执行被手动停止', tone: 'stopped' },
  timed_out: { text: '已超时', why: '超过超时时间，命令已被终止' },
  node_lost: { text: '节点失联', why: '节点失联：无法连接该节点的 Docker 引擎' },
  container_gone: { text: '容器已停止', why: '容器在执行期间停止或被删除' },
  engine_error: { text: '引擎出错', why: 'Docker 引擎出错' },
  service_shutdown: { text: '服务停止', why: 'dce-jobs 服务停止，执行被中断' },
  interrupted: { text: '已中断', why: 'dce-jobs 服务重启，执行被中断' },
};

// Before the server sends EndReason, the same reasons are recognised from its E text.
const E_PATTERNS = [
  [/^stopped before start/, 'stopped', { text: '已停止，未开始', why: '执行被手动停止，命令尚未开始', tone: 'stopped' }],
  [/^job deleted before start/, 'stopped', { text: '已停止，未开始', why: '作业被删除，命令尚未开始', tone: 'stopped' }],
  [/^stopped\b/, 'stopped'],
  [/^job deleted\b/, 'stopped', { text: '已停止', why: '作业被删除，执行被停止', tone: 'stopped' }],
  [/^timed out after /, 'timed_out'],
  [/^container \S+ stopped while this target ran/, 'container_gone'],
  [/^container \S+ is no longer a running task/, 'container_gone'],
  [/^node \S+ unreachable for /, 'node_lost'],
  [/^the service shut down /, 'service_shutdown'],
  [/^the service (restarted|stopped) /, 'interrupted'],
];

/** { reason, text, why, tone? } for an ended target, from EndReason when present, else from E; null if none. */
export function endReason(result) {
  const status = statusOf(result);
  if (!FINAL.has(status)) return null;
  if (result.EndReason && REASONS[result.EndReason]) {
    let known = REASONS[result.EndReason];
    if (result.EndReason === 'stopped' && status === 'CREATE_FAILED') known = E_PATTERNS[0][2];
    return { reason: result.EndReason, ...known };
  }
  const e = result.E || '';
  for (const [pattern, reason, own] of E_PATTERNS) {
    if (pattern.test(e)) return { reason, ...(own || REASONS[reason]) };
  }
  return null;
}

/** { label, tone } with tone in running | ok | fail | stopped. */
export function outcome(result) {
  const status = statusOf(result);
  if (status === 'FINISHED') {
    return result.ExitCode === 0 ? { label: '成功', tone: 'ok' } : { label: '失败', tone: 'fail' };
  }
  if (FINAL.has(status)) {
    const reason = endReason(result);
    if (reason && reason.tone === 'stopped') return { label: '已停止', tone: 'stopped' };
    return { label: '失败', tone: 'fail' };
  }
  return { label: '执行中', tone: 'running' };
}

/** Failures of create/run show E; everything else shows the output. */
export function detail(result) {
  const status = statusOf(result);
  if (status === 'CREATE_FAILED' || status === 'RUNNING_FAILED') {
    return { kind: 'error', text: result.E || '', output: result.Output || '' };
  }
  return { kind: 'output', text: result.Output || '', output: '' };
}

// The execution's State, once the server sends it (also the lists' state badges).
export const STATES = {
  running: { label: '执行中', tone: 'running' },
  paused: { label: '已暂停', tone: 'muted' },
  succeeded: { label: '成功', tone: 'ok' },
  failed: { label: '失败', tone: 'fail' },
  stopped: { label: '已停止', tone: 'stopped' },
};

/** Summary of a whole execution: counts and one overall label (from its State when the server sends one). */
export function summarize(results, state) {
  const counts = { running: 0, ok: 0, fail: 0, stopped: 0 };
  for (const r of results) counts[outcome(r).tone] += 1;
  let overall;
  if (!results.length) overall = { label: '无目标', tone: 'muted' };
  else if (counts.running) overall = { label: '执行中', tone: 'running' };
  else if (counts.fail) overall = { label: counts.ok || counts.stopped ? '部分失败' : '失败', tone: 'fail' };
  else if (counts.stopped) overall = { label: '已停止', tone: 'stopped' };
  else overall = { label: '成功', tone: 'ok' };
  if (state && STATES[state] && results.length) {
    overall = { ...STATES[state] };
    if (state === 'failed' && (counts.ok || counts.stopped)) overall.label = '部分失败';
    // Stopped after some targets had failed: both facts matter.
    if (state === 'stopped' && counts.fail) overall.label = '已停止，部分失败';
  }
  return { counts, overall, final: counts.running === 0 };
}

export const STATUS_TEXT = {
  STARTING: '准备中',
  CREATED: '已创建',
  RUNNING: '运行中',
  CREATE_FAILED: '创建失败',
  RUNNING_FAILED: '运行失败',
  FINISHED: '已结束',
};

export function statusText(result) {
  const s = statusOf(result);
  const reason = endReason(result);
  if (reason && reason.reason !== 'exited') return reason.text;
  return STATUS_TEXT[s] || s;
}
