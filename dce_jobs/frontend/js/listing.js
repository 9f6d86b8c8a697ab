// Pieces of the paged lists (jobs, a job's history, the activity across jobs): their state in the hash's query,
// the pager, time range inputs, and how an execution entry of GET .../executors is shown.
import { formatTime, h, replace } from './dom.js';
import { formatDuration } from './rolling.js';
import { STATES } from './status.js';
import { badge } from './ui.js';

/** `#/path?query` with the empty values left out (the URL stays as short as the state allows). */
export function hashOf(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== '' && value !== null && value !== undefined) query.set(key, String(value));
  }
  const text = query.toString();
  return `${path}${text ? `?${text}` : ''}`;
}

/** A positive integer from the query, else `fallback` (a hand-edited URL never breaks the page). */
export function intParam(query, key, fallback, max = 1e7) {
  const value = Number(query.get(key));
  return Number.isInteger(value) && value >= 1 && value <= max ? value : fallback;
}

/** The page sizes a list offers (`size` in the URL; a hand-edited one is kept and offered too). */
export const PAGE_SIZES = [20, 50, 100];

/**
 * The page size choice of a list (testid `<testid>`): { control, show(size) }; `onchange(size)` on a choice.
 */
export function sizeChoice(testid, onchange) {
  const select = h('select', {
    'data-testid': testid,
    'aria-label': '每页条数',
    class: 'size-select',
    onchange: () => onchange(Number(select.value)),
  });
  return {
    control: h('label', { class: 'inline' }, '每页', select),
    show(size) {
      const sizes = PAGE_SIZES.includes(size) ? PAGE_SIZES : [...PAGE_SIZES, size].sort((a, b) => a - b);
      replace(select, sizes.map((n) => h('option', { value: String(n) }, `${n} 条`)));
      select.value = String(size);
    },
  };
}

/** Epoch seconds from the query (`from`, `to`), else ''. */
export function timeParam(query, key) {
  const value = Number(query.get(key));
  return query.get(key) && Number.isFinite(value) && value >= 0 ? value : '';
}

/** One of `allowed` from the query, else ''. */
export function choiceParam(query, key, allowed) {
  const value = query.get(key) || '';
  return allowed.includes(value) ? value : '';
}

/** Previous / next links and "第 2 / 5 页，共 93 条"; links, so that Back goes to the page seen before. */
export function pager({ page, size, total, hrefOf, unit = '条' }) {
  const pages = Math.max(1, Math.ceil(total / size));
  const link = (label, target, testid) =>
    target >= 1 && target <= pages && target !== page
      ? h('a', { class: 'btn btn-sm', href: hrefOf(target), 'data-testid': testid }, label)
      : h('span', { class: 'btn btn-sm', 'aria-disabled': 'true', 'data-testid': testid, 'data-disabled': '' }, label);
  return h(
    'nav',
    { class: 'pager', 'aria-label': '分页', 'data-testid': 'pager', 'data-page': page, 'data-pages': pages },
    h('span', { class: 'muted', 'data-testid': 'pager-info' }, `第 ${page} / ${pages} 页，共 ${total} ${unit}`),
    link('上一页', page - 1, 'pager-prev'),
    link('下一页', page + 1, 'pager-next'),
  );
}

/**
 * The foot of a paged list: its page size choice (`sizeControl`) and, past one page, the pager; nothing while one
 * page of the smallest size holds every entry.
 */
export function pageFoot(sizeControl, { page, size, total, hrefOf, unit }) {
  if (total <= PAGE_SIZES[0] && page === 1 && size === PAGE_SIZES[0]) return null;
  const paged = total > size || page > 1;
  return h('div', { class: 'list-foot' }, sizeControl, paged ? pager({ page, size, total, hrefOf, unit }) : null);
}

/** A datetime-local input holding epoch seconds `value` ('' for none), in the browser's time zone. */
export function timeInput(value, { testid, label, onchange }) {
  const input = h('input', { type: 'datetime-local', step: 1, 'data-testid': testid, 'aria-label': label, onchange });
  if (value !== '') input.value = localText(value);
  return input;
}

/** The epoch seconds of a datetime-local input, '' when empty or incomplete. */
export function timeOf(input) {
  if (!input.value) return '';
  const ms = new Date(input.value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : '';
}

function localText(seconds) {
  const d = new Date(seconds * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The stored states an execution list filters on (`paused` lives only in the running process). */
export const STATE_CHOICES = [
  ['running', '执行中'],
  ['succeeded', '成功'],
  ['failed', '失败'],
  ['stopped', '已停止'],
];

/** An execution list's state from the URL: State, start time range, page and size. */
export function readRunState(query, pageSize) {
  return {
    state: choiceParam(query, 'state', STATE_CHOICES.map(([value]) => value)),
    from: timeParam(query, 'from'),
    to: timeParam(query, 'to'),
    page: intParam(query, 'page', 1),
    size: intParam(query, 'size', pageSize, 500),
  };
}

/** Whether an execution list's state filters anything. */
export function runsFiltered(state) {
  return Boolean(state.state) || state.from !== '' || state.to !== '';
}

/**
 * An execution list's state select and start time range (testids `<prefix>-state`, `-from`, `-to`):
 * { controls, show(state), read() -> { state, from, to } }; `onchange` runs on each committed change.
 */
export function runFilters(prefix, onchange) {
  const select = h(
    'select',
    { 'data-testid': `${prefix}-state`, 'aria-label': '状态', class: 'sort-select', onchange },
    h('option', { value: '' }, '全部状态'),
    STATE_CHOICES.map(([value, label]) => h('option', { value }, label)),
  );
  const fromSlot = h('span', {});
  const toSlot = h('span', {});
  let from = timeInput('', { testid: `${prefix}-from`, label: '开始时间不早于', onchange });
  let to = timeInput('', { testid: `${prefix}-to`, label: '开始时间不晚于', onchange });
  return {
    controls: [
      h('label', { class: 'inline' }, '状态', select),
      h('label', { class: 'inline' }, '开始于', fromSlot),
      h('label', { class: 'inline' }, '至', toSlot),
    ],
    // New inputs rather than new values: a half-typed date left in the old one must not survive Back.
    show(state) {
      select.value = state.state;
      from = timeInput(state.from, { testid: `${prefix}-from`, label: '开始时间不早于', onchange });
      to = timeInput(state.to, { testid: `${prefix}-to`, label: '开始时间不晚于', onchange });
      replace(fromSlot, from);
      replace(toSlot, to);
    },
    read: () => ({ state: select.value, from: timeOf(from), to: timeOf(to) }),
  };
}

/** The badge of an execution's State; Counts tell a partial failure from a whole one. */
export function stateBadge(state, counts, testid) {
  const known = STATES[state] || { label: state || '未知', tone: 'muted' };
  let label = known.label;
  if (state === 'failed' && counts && (counts.succeeded || counts.stopped)) label = '部分失败';
  if (state === 'stopped' && counts && counts.failed) label = '已停止，部分失败';
  return badge({ label, tone: known.tone }, testid);
}

const COUNTS = [
  ['succeeded', '成功'],
  ['failed', '失败'],
  ['stopped', '已停止'],
  ['running', '执行中'],
  ['waiting', '等待'],
];

/** "3 成功 · 1 失败" from an entry's Counts (its Targets when it has none yet). */
export function countsText(counts, targets) {
  if (!counts) return targets ? `${targets} 个容器` : '—';
  const parts = COUNTS.filter(([key]) => counts[key]).map(([key, label]) => `${counts[key]} ${label}`);
  return parts.length ? parts.join(' · ') : '无目标';
}

const TRIGGERS = { manual: '手动', retry: '重试', schedule: '定时' };

/** How an execution was started, in the panel's words. */
export function triggerText(trigger) {
  return TRIGGERS[trigger] || trigger || '手动';
}

// Users the server names when no signed-in user is known (see Who in the README).
const SERVER_USERS = { anonymous: '匿名', token: 'API 令牌' };
// StartedBy also says when no one started a run: a schedule's fire, an automatic retry.
const NO_ONE = { schedule: '定时计划', retry: '自动重试' };

/** A user (CreatedBy, UpdatedBy) in the panel's words ('' in records from before users were kept). */
export function userText(user) {
  if (!user) return '—';
  return SERVER_USERS[user] || user;
}

/** Who started an execution. */
export function startedByText(startedBy) {
  return NO_ONE[startedBy] || userText(startedBy);
}

/** The StartedBy cell: the user's name as text, the raw value in the title. */
export function startedBy(value, testid) {
  return h('span', { class: 'cut', title: value || '', 'data-testid': testid, 'data-started-by': value || '' }, startedByText(value));
}

/**
 * An entry's duration: its Duration once ended; while running, the time since its start, marked with
 * data-since so that `tickDurations` grows it.
 */
export function entryDuration(entry, testid) {
  if (entry.Duration != null) return h('span', { 'data-testid': testid }, formatDuration(entry.Duration));
  if (entry.State === 'running' || entry.State === 'paused') {
    const since = Number(entry.CreateTime);
    return h('span', { 'data-testid': testid, 'data-since': String(since) }, formatDuration(Date.now() / 1000 - since));
  }
  return h('span', { class: 'muted', 'data-testid': testid }, '—');
}

/** Grow the running durations under `root` (called each second by the lists). */
export function tickDurations(root) {
  for (const el of root.querySelectorAll('[data-since]')) {
    el.textContent = formatDuration(Date.now() / 1000 - Number(el.dataset.since));
  }
}

/** A time, or '—'. */
export function timeText(seconds) {
  return seconds ? formatTime(seconds) : '—';
}

/** How often a list with a running execution on it asks for its page again. */
export const REFRESH_MS = 5000;

/** Whether an execution list's entries hold one that is still running (its page changes by itself). */
export function anyRunning(items) {
  return items.some((e) => e.State === 'running' || e.State === 'paused');
}

/**
 * The load() of a paged list view. `fetch()` asks for the page the view's state names ({items, total}) and
 * `show(items, total)` draws it. An answer to an older call, or one arriving after the view left (`live()` false),
 * is dropped. A page past the end (fewer entries than when the link was made, a delete emptied it) becomes the
 * last one through `toPage(pages)`, which moves the view's state and URL and loads again. A failure goes to `fail`.
 *
 * With `refreshWhile(items)`, a page it is true of is asked for again REFRESH_MS after it was shown, quietly: the
 * same answer again is not redrawn (nothing flickers, a selection stays), a failed refresh leaves the page as it is
 * and tries again later. One timer at most, set only once an answer is shown and cleared by every load, so requests
 * never pile up; `load.stop()` when the view is left. `marker`'s data-refresh says whether one is pending (on/off).
 */
export function pageLoader({ fetch, position, live, toPage, show, fail, refreshWhile = null, marker = null }) {
  let generation = 0;
  let timer = null;
  let shown = '';
  const pend = (on) => {
    clearTimeout(timer);
    timer = on ? setTimeout(() => live() && load({ quiet: true }), REFRESH_MS) : null;
    if (marker) marker.dataset.refresh = on ? 'on' : 'off';
  };
  async function load({ quiet = false } = {}) {
    pend(false);
    const mine = ++generation;
    const { page, size } = position();
    try {
      const { items, total } = await fetch();
      if (!live() || mine !== generation) return;
      const pages = Math.max(1, Math.ceil(total / size));
      if (!items.length && page > pages) {
        toPage(pages);
        return;
      }
      const answer = JSON.stringify([items, total]);
      if (!quiet || answer !== shown) show(items, total);
      shown = answer;
      if (refreshWhile) pend(refreshWhile(items));
    } catch (err) {
      if (!live() || mine !== generation) return;
      if (quiet) pend(true);
      else fail(err);
    }
  }
  load.stop = () => pend(false);
  return load;
}
