// A job's schedules: list with next run and last fire, create (cron or once), enable/disable, delete.
import { api } from '../api.js';
import { describe } from '../errors.js';
import { formatTime, h, replace } from '../dom.js';
import { button, confirmBox, toast } from '../ui.js';
import { executionHref } from './actions.js';

const OUTCOMES = { fired: '已执行', skipped: '已跳过（上次未结束）', missed: '已错过', failed: '启动失败', pending: '启动中' };

export function schedulesCard(job) {
  const body = h('div', {}, h('span', { class: 'muted' }, '加载中…'));
  const card = h('section', { class: 'card', 'data-testid': 'schedules' }, h('h2', {}, '定时执行'), body);

  async function load() {
    try {
      draw(await api.listSchedules(job.JobId));
    } catch (err) {
      replace(body, h('div', { class: 'alert', 'data-testid': 'schedules-error' }, describe(err)));
    }
  }

  function draw(schedules) {
    replace(
      body,
      schedules.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'table', 'data-testid': 'schedule-table' },
              h('thead', {}, h('tr', {}, ['时间', '时区', '下次执行', '上次执行', '状态', ''].map((t) => h('th', {}, t)))),
              h('tbody', {}, schedules.map(row)),
            ),
          )
        : h('div', { class: 'empty', 'data-testid': 'schedules-empty' }, '没有定时执行'),
      form(),
    );
  }

  function row(s) {
    const last = s.LastFire;
    const lastCell = !last
      ? '—'
      : [
          h('span', { 'data-testid': 'schedule-last-outcome' }, OUTCOMES[last.Outcome] || last.Outcome),
          ' ',
          last.ExecutorId
            ? h('a', { href: executionHref(job.JobId, last.ExecutorId) }, formatTime(last.DueTime))
            : h('span', { class: 'muted', title: last.Reason }, formatTime(last.DueTime)),
        ];
    const toggle = async () => {
      try {
        await api.updateSchedule(job.JobId, s.ScheduleId, { Enabled: !s.Enabled });
      } catch (err) {
        toast(describe(err), 'error');
      }
      load();
    };
    const remove = async () => {
      const ok = await confirmBox({ title: '删除定时执行', message: '删除后不再按此时间执行。', danger: true, confirmText: '删除' });
      if (!ok) return;
      try {
        await api.deleteSchedule(job.JobId, s.ScheduleId);
      } catch (err) {
        toast(describe(err), 'error');
      }
      load();
    };
    return h(
      'tr',
      { 'data-testid': 'schedule-row', 'data-schedule-id': s.ScheduleId },
      h('td', { class: 'mono' }, s.Cron ? s.Cron : `一次 ${formatTime(s.RunAt)}`),
      h('td', {}, s.Cron ? s.TimeZone : '—'),
      h('td', { 'data-testid': 'schedule-next' }, s.NextRunTime ? formatTime(s.NextRunTime) : '—'),
      h('td', {}, lastCell),
      h('td', { 'data-testid': 'schedule-state' }, s.Enabled ? '已启用' : '已停用'),
      h(
        'td',
        { class: 'actions' },
        button(s.Enabled ? '停用' : '启用', toggle, { small: true, testid: 'schedule-toggle' }),
        button('删除', remove, { small: true, kind: 'danger-outline', testid: 'schedule-delete' }),
      ),
    );
  }

  function form() {
    const kind = h(
      'select',
      { 'data-testid': 'schedule-kind' },
      h('option', { value: 'cron' }, '周期（cron）'),
      h('option', { value: 'once' }, '一次'),
    );
    const cron = h('input', { type: 'text', placeholder: '分 时 日 月 周，如 30 2 * * *', 'data-testid': 'schedule-cron' });
    const once = h('input', { type: 'datetime-local', 'data-testid': 'schedule-run-at', hidden: true });
    const zone = h('input', {
      type: 'text',
      placeholder: '时区（默认服务器的），如 Asia/Shanghai',
      'data-testid': 'schedule-time-zone',
    });
    const policy = h(
      'select',
      { 'data-testid': 'schedule-policy' },
      h('option', { value: 'Skip' }, '上次未结束时跳过'),
      h('option', { value: 'Allow' }, '允许同时执行'),
    );
    const error = h('div', { class: 'field-error', 'data-testid': 'schedule-form-error' });
    kind.onchange = () => {
      cron.hidden = zone.hidden = kind.value !== 'cron';
      once.hidden = kind.value === 'cron';
    };
    const add = async () => {
      const body = { ConcurrencyPolicy: policy.value };
      if (kind.value === 'cron') {
        body.Cron = cron.value.trim();
        if (zone.value.trim()) body.TimeZone = zone.value.trim();
      } else {
        body.RunAt = once.value ? new Date(once.value).getTime() / 1000 : null;
      }
      try {
        await api.createSchedule(job.JobId, body);
        toast('已添加定时执行');
        load();
      } catch (err) {
        error.textContent = describe(err);
      }
    };
    return h(
      'div',
      { class: 'schedule-form', 'data-testid': 'schedule-form' },
      kind,
      cron,
      once,
      zone,
      policy,
      button('添加', add, { kind: 'primary', small: true, testid: 'schedule-add' }),
      error,
    );
  }

  load();
  return card;
}
