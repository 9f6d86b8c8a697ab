// The rolling settings of a job or a run, in the words of Swarm's UpdateConfig: Parallelism, Delay, FailureAction,
// MaxFailureRatio. Formats are checked here, ranges by the server (its errors land on the same fields).
import { h } from './dom.js';

export const ROLLING_FIELDS = ['Parallelism', 'Delay', 'FailureAction', 'MaxFailureRatio'];

export const FAILURE_ACTIONS = {
  continue: '继续执行其余容器',
  pause: '暂停，等待手动继续',
  stop: '停止，不再开始新的容器',
};

const LABELS = {
  Parallelism: '并发数',
  Delay: '间隔（秒）',
  FailureAction: '失败处理',
  MaxFailureRatio: '容忍失败比例',
};

const HINTS = {
  Parallelism: '同时执行的容器数；0 或留空为全部同时执行',
  Delay: '一个容器结束后，等多少秒再开始下一个',
  FailureAction: '失败超过容忍比例时怎么办；暂停后运行中的容器会执行完',
  MaxFailureRatio: '0 到 1；0 表示任一容器失败即触发失败处理，0.2 表示失败超过 20% 才触发',
};

export const rollingLabel = (name) => LABELS[name];
export const rollingHint = (name) => HINTS[name];

/**
 * The four inputs, filled from `src` (a job or null). With `inherit` (the start dialog) every field may stay empty
 * to keep the job's value, and the job's value is the placeholder.
 */
export function rollingInputs(src, { inherit = null, prefix = 'job' } = {}) {
  const num = (name, value, mode) =>
    h('input', {
      type: 'text',
      inputmode: mode,
      autocomplete: 'off',
      value: value ? String(value) : '',
      placeholder: inherit ? String(inherit[name] ?? 0) : '0',
      'data-testid': `${prefix}-${name.toLowerCase()}`,
      'aria-label': LABELS[name],
    });
  const select = h(
    'select',
    { 'data-testid': `${prefix}-failureaction`, 'aria-label': LABELS.FailureAction },
    inherit
      ? h('option', { value: '' }, `沿用作业设置（${FAILURE_ACTIONS[inherit.FailureAction || 'continue']}）`)
      : null,
    Object.entries(FAILURE_ACTIONS).map(([value, text]) => h('option', { value }, `${text}（${value}）`)),
  );
  select.value = inherit ? '' : (src && src.FailureAction) || 'continue';
  return {
    Parallelism: num('Parallelism', src && src.Parallelism, 'numeric'),
    Delay: num('Delay', src && src.Delay, 'decimal'),
    FailureAction: select,
    MaxFailureRatio: num('MaxFailureRatio', src && src.MaxFailureRatio, 'decimal'),
  };
}

/** { values, errors }: what the inputs say; an empty field is null (the default, or the job's in a start). */
export function readRolling(inputs) {
  const values = {};
  const errors = {};
  const text = (name) => inputs[name].value.trim();
  const p = text('Parallelism');
  if (!p) values.Parallelism = null;
  else if (/^\d+$/.test(p)) values.Parallelism = Number(p);
  else errors.Parallelism = '请输入整数（0 表示全部同时执行）';
  for (const name of ['Delay', 'MaxFailureRatio']) {
    const t = text(name);
    if (!t) values[name] = null;
    else if (/^\d+(\.\d+)?$|^\.\d+$/.test(t)) values[name] = Number(t);
    else errors[name] = name === 'Delay' ? '请输入秒数（0 或正数）' : '请输入 0 到 1 之间的数字';
  }
  values.FailureAction = inputs.FailureAction.value || null;
  return { values, errors };
}

/** The settings in force as one line: "每次 2 个 · 间隔 1 秒 · 失败即暂停", or "全部同时执行". */
export function describeRolling(r) {
  if (!r) return '—';
  const parts = [r.Parallelism ? `每次 ${r.Parallelism} 个` : '全部同时执行'];
  if (r.Delay) parts.push(`间隔 ${r.Delay} 秒`);
  const action = r.FailureAction || 'continue';
  if (action !== 'continue' || r.MaxFailureRatio) {
    const when = r.MaxFailureRatio ? `失败超过 ${Math.round(r.MaxFailureRatio * 1000) / 10}% 时` : '任一失败即';
    parts.push(`${when}${{ continue: '继续', pause: '暂停', stop: '停止' }[action] || action}`);
  }
  return parts.join(' · ');
}

/** 8.2 -> "8.2 秒", 75 -> "1 分 15 秒", 3720 -> "1 小时 2 分". */
export function formatDuration(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  if (s < 10) return `${Math.floor(s * 10) / 10} 秒`;
  if (s < 60) return `${Math.floor(s)} 秒`;
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = Math.floor(s % 60);
  if (d) return `${d} 天 ${hh} 小时`;
  if (hh) return `${hh} 小时 ${m} 分`;
  return `${m} 分 ${rest} 秒`;
}
