// A target's row of the execution view and its folded detail row, updated in place: a cell is rebuilt only when
// what it shows changed, and the output box is only ever appended to.
import { formatTime, h, replace, shortId } from '../dom.js';
import { formatDuration } from '../rolling.js';
import { detail, endReason, isFinal, outcome, statusText } from '../status.js';
import { badge, button } from '../ui.js';
import { OutputBox } from './output.js';

const COLUMNS = 7;

export class ResultRow {
  /** `ctx`: { hostnames: Map, save(containerId) }. */
  constructor(r, ctx) {
    this.ctx = ctx;
    this.containerId = r.ContainerId;
    this.expanded = false;
    this.live = null; // { text, stream } of the newest line from the event stream
    this.lastOffset = -1; // the event stream's newest output offset seen, so a replayed chunk is not shown twice
    this.keys = new Map();
    this.box = new OutputBox({ onDownload: () => ctx.save(this.containerId) });
    this.cells = Array.from({ length: COLUMNS }, () => h('td', {}));
    this.main = h('tr', { 'data-testid': 'result-row', 'data-container-id': r.ContainerId }, this.cells);
    this.detailHead = h('div', {});
    this.detailNotes = h('div', {});
    this.detailCell = h('td', { colspan: COLUMNS }, this.detailHead, this.box.el, this.detailNotes);
    this.detail = h(
      'tr',
      { class: 'detail-row', 'data-testid': 'result-detail', 'data-container-id': r.ContainerId, hidden: true },
      this.detailCell,
    );
  }

  get elements() {
    return [this.main, this.detail];
  }

  /** Show `r` (one Result entry) of execution `data`. */
  update(r, data) {
    this.r = r;
    this.data = data;
    this.main.dataset.status = r.Status || '';
    const d = detail(r);
    const wait = waiting(r, data);
    const host = this.ctx.hostnames.get(r.NodeId) || '';
    const [node, container, state, exit, time, , actions] = this.cells;
    this.cell(node, [r.NodeId, host], () => nodeCell(r, host));
    this.cell(container, [r.ContainerId, r.Slot, r.PreviousContainerId], () => containerCell(r));
    this.cell(state, [r.Status, r.ExitCode, r.EndReason, r.E, wait], () => [
      badge(wait ? { label: '等待中', tone: 'muted' } : outcome(r), 'result-status'),
      h('div', { class: 'muted small' }, wait ? '尚未开始' : rowStatus(r, data)),
    ]);
    exit.className = 'mono';
    exit.dataset.testid = 'result-exit-code';
    this.cell(exit, [r.ExitCode], () => String(r.ExitCode ?? '—'));
    time.className = 'nowrap';
    time.title = times(r);
    this.cell(time, [r.StartTime, r.EndTime, isFinal(r)], () =>
      r.StartTime
        ? [
            duration(r.StartTime, r.EndTime, 'result-duration', !isFinal(r)),
            h('div', { class: 'muted small', 'data-testid': 'result-start' }, clock(r.StartTime)),
          ]
        : h('span', { class: 'muted', 'data-testid': 'result-duration' }, '—'),
    );
    this.showPreview();
    actions.className = 'actions';
    this.cell(actions, [this.expanded, d.kind], () => [
      button(this.expanded ? '收起' : d.kind === 'error' ? '查看错误' : '查看输出', () => this.toggle(), {
        kind: 'link',
        small: true,
        testid: 'toggle-output',
      }),
      button('下载', () => this.ctx.save(this.containerId), { kind: 'link', small: true, testid: 'download-log' }),
    ]);
    this.updateDetail(r, d);
  }

  /** Forget the streamed output (inspect feeds the box from now on). */
  resetOutput() {
    this.box.reset();
    this.live = null;
    this.lastOffset = -1;
  }

  /** Polling: inspect's Output is what there is. */
  syncOutput(r) {
    this.box.sync(r.Output || '');
    this.showPreview();
  }

  /** An `output` event; returns false for a chunk already shown (a replay after a reconnect). */
  appendOutput(event) {
    const offset = Number(event.Offset);
    if (Number.isFinite(offset)) {
      if (offset <= this.lastOffset) return false;
      this.lastOffset = offset;
    }
    const stream = event.Stream === 'stderr' ? 'stderr' : 'stdout';
    this.box.append(event.Text || '', stream);
    this.live = this.box.latest();
    this.showPreview();
    if (this.r) this.updateDetail(this.r, detail(this.r));
    return true;
  }

  toggle() {
    this.expanded = !this.expanded;
    this.detail.hidden = !this.expanded;
    if (this.expanded) this.box.shown();
    this.update(this.r, this.data);
  }

  showPreview() {
    const r = this.r;
    if (!r) return;
    const td = this.cells[5];
    const d = detail(r);
    const reason = endReason(r);
    let key;
    let build;
    if (d.kind === 'error') {
      const line = firstLine(d.text);
      key = ['error', reason && reason.why, line];
      build = () =>
        h(
          'div',
          { class: 'cut' },
          h('span', { class: reason && reason.tone === 'stopped' ? 'muted' : 'text-fail' }, reason ? reason.why : '执行失败'),
          line ? h('span', { class: 'muted mono', 'data-testid': 'result-e' }, ` ${line}`) : null,
        );
      td.title = line;
    } else {
      const latest = this.live || (r.Output ? { text: latestLine(r.Output), stream: 'stdout' } : null);
      const text = latest && latest.text ? latest.text : '';
      const err = Boolean(text) && latest.stream === 'stderr';
      key = ['output', text, err, text ? '' : isFinal(r) ? 'none' : rowStatus(r, this.data)];
      build = () =>
        h(
          'div',
          { class: 'cut' },
          text
            ? [
                err ? h('span', { class: 'stream-tag', 'data-testid': 'result-preview-stderr' }, 'stderr') : null,
                h('span', { class: err ? 'mono preview-err' : 'mono', 'data-testid': 'result-preview-line' }, text),
              ]
            : h('span', { class: 'muted' }, isFinal(r) ? '（无输出）' : rowStatus(r, this.data)),
        );
      td.title = text;
    }
    td.className = 'preview';
    this.cell(td, key, build);
  }

  updateDetail(r, d) {
    const reason = d.kind === 'error' ? endReason(r) : null;
    this.box.el.hidden = d.kind === 'error' && this.box.isEmpty();
    this.cell(this.detailHead, [r.PreviousContainerId, r.Slot, d.kind, d.text, reason && reason.why], () => [
      r.PreviousContainerId
        ? h(
            'p',
            { class: 'muted', 'data-testid': 'result-replaced' },
            `Swarm 已替换任务槽位 ${r.Slot ?? ''} 的任务：本次在新的任务容器中执行，旧容器 ${r.PreviousContainerId}`,
          )
        : null,
      reason ? h('p', { class: 'reason', 'data-testid': 'result-reason' }, reason.why) : null,
      d.kind === 'error'
        ? h(
            'div',
            { class: 'output' },
            h('div', { class: 'output-label' }, '错误信息（服务端原文）'),
            h('pre', { class: 'pre-error', 'data-testid': 'result-error' }, d.text || '（空）'),
          )
        : null,
    ]);
    const notes = [];
    if (r.OutputTail && this.box.synced) notes.push('只显示最后 64 KiB，完整输出请下载日志。');
    if (r.OutputTruncated) notes.push('输出超过服务端的保存上限，已被截断。');
    this.cell(this.detailNotes, notes, () => notes.map((n) => h('p', { class: 'muted small' }, n)));
  }

  /** Rebuild `el`'s children only when `key` differs from what it shows. */
  cell(el, key, build) {
    const k = JSON.stringify(key);
    if (this.keys.get(el) === k) return;
    this.keys.set(el, k);
    replace(el, build());
  }
}

function nodeCell(r, host) {
  return [
    h('div', { class: 'cut', title: r.NodeId }, host || h('span', { class: 'mono' }, shortId(r.NodeId, 25))),
    host ? h('div', { class: 'mono muted small cut' }, shortId(r.NodeId, 25)) : null,
  ];
}

function containerCell(r) {
  return h(
    'div',
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
  );
}

/** A duration; while `live` (still running) it carries data-since and grows with the view's timer. */
export function duration(from, to, testid, live) {
  if (!from || (!to && !live)) return h('span', { class: 'muted', 'data-testid': testid }, '—');
  const end = to || Date.now() / 1000;
  return h('span', { 'data-testid': testid, 'data-since': live && !to ? String(from) : null }, formatDuration(end - from));
}

/** A target waiting for its turn in a rolling run says so (its status stays STARTING, as the seed has it). */
export function waiting(r, data) {
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
