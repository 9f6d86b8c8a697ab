// Cells of the job list that say what happened to a job: its last run, its last edit.
import { formatTime, h } from '../dom.js';
import { stateBadge, userText } from '../listing.js';
import { executionHref } from './actions.js';

/** The LastRun's state and how many runs, then when it started (a link to it); or 未执行. */
export function lastRun(job) {
  const last = job.LastRun;
  if (!last) return h('span', { class: 'muted' }, '未执行');
  const runs = (job.Executors || []).length;
  return [
    h(
      'div',
      { class: 'last-run' },
      stateBadge(last.State, null, 'job-last-state'),
      runs ? h('span', { class: 'muted small' }, `共 ${runs} 次`) : null,
    ),
    h(
      'a',
      { href: executionHref(job.JobId, last.ExecutorId), title: last.ExecutorId, class: 'small', 'data-testid': 'job-last-link' },
      formatTime(last.ExecutorId),
    ),
  ];
}

/** When the job was last edited and by whom; its creation in the title. */
export function changed(job) {
  if (!job.UpdateTime) return h('span', { class: 'muted' }, '—');
  const title = `创建：${job.CreatedBy || '—'}，${formatTime(job.CreateTime)}\n修改：${job.UpdatedBy || '—'}，${formatTime(job.UpdateTime)}`;
  return h(
    'div',
    { title },
    h('div', { class: 'nowrap' }, formatTime(job.UpdateTime)),
    h('div', { class: 'muted small cut', 'data-testid': 'job-updated-by' }, userText(job.UpdatedBy)),
  );
}
