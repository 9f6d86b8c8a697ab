// The seed's status -> label rules for one Result entry of inspect.

export const FINAL = new Set(['CREATE_FAILED', 'RUNNING_FAILED', 'FINISHED']);

// The seed's own example has a finished entry with Status "": fall back on ExitCode then.
function statusOf(result) {
  if (result.Status) return result.Status;
  return result.ExitCode === undefined || result.ExitCode === null ? 'STARTING' : 'FINISHED';
}

export function isFinal(result) {
  return FINAL.has(statusOf(result));
}

/** { label, tone } with tone in running | ok | fail. */
export function outcome(result) {
  const status = statusOf(result);
  if (status === 'FINISHED') {
    return result.ExitCode === 0 ? { label: '成功', tone: 'ok' } : { label: '失败', tone: 'fail' };
  }
  if (FINAL.has(status)) return { label: '失败', tone: 'fail' };
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

/** Summary of a whole execution: counts and one overall label. */
export function summarize(results) {
  const counts = { running: 0, ok: 0, fail: 0 };
  for (const r of results) counts[outcome(r).tone] += 1;
  let overall;
  if (!results.length) overall = { label: '无目标', tone: 'muted' };
  else if (counts.running) overall = { label: '执行中', tone: 'running' };
  else if (counts.fail) overall = { label: counts.ok ? '部分失败' : '失败', tone: 'fail' };
  else overall = { label: '成功', tone: 'ok' };
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
  const e = result.E || '';
  // The runner's own reasons for ending a target (stop and timeout), in the panel's words.
  if (s === 'RUNNING_FAILED' && e.startsWith('stopped')) return '已停止';
  if (s === 'RUNNING_FAILED' && e.startsWith('timed out after ')) return '已超时';
  if (s === 'CREATE_FAILED' && e.startsWith('stopped before start')) return '已停止，未开始';
  return STATUS_TEXT[s] || s;
}
