// One container's output as it arrives: appended line by line (never redrawn, so a selection and the scroll
// position survive), stderr marked, the DOM kept to the newest KEEP_CHARS, scrolled to the end only while following.
import { h } from '../dom.js';

export const KEEP_CHARS = 128 * 1024;
const KEEP_LINES = 4000;
const SLACK = 1.25; // trim only once this far past a limit, so that trimming is rare
const BOTTOM_PX = 8; // this close to the end counts as at the end

export class OutputBox {
  /** `onDownload()` saves the container's full log (offered once older output is dropped from the box). */
  constructor({ onDownload }) {
    this.chars = 0;
    this.lines = 0;
    this.droppedChars = 0;
    this.open = { stdout: null, stderr: null }; // each stream's unterminated last line
    this.synced = ''; // polling only: the inspect Output already shown
    this.follow = true;
    this.autoTop = 0; // scrollTop right after the view last scrolled to the end
    this.box = h('div', {
      class: 'output-box',
      role: 'log',
      tabindex: '0',
      'aria-label': '输出',
      'data-testid': 'result-output',
    });
    this.box.addEventListener('scroll', () => this.onScroll());
    this.followInput = h('input', {
      type: 'checkbox',
      checked: true,
      'data-testid': 'output-follow',
      onchange: () => this.setFollow(this.followInput.checked, { scroll: true }),
    });
    this.legend = h(
      'span',
      { class: 'stream-legend small', hidden: true, 'data-testid': 'stderr-legend' },
      h('span', { class: 'legend-err' }, 'stderr'),
      ' 标准错误输出的行以红色竖线和「!」标出',
    );
    this.trimNote = h('span', { class: 'muted small', 'data-testid': 'output-trimmed' });
    this.trimLine = h(
      'div',
      { class: 'output-trimmed', hidden: true },
      this.trimNote,
      h('button', { type: 'button', class: 'btn btn-link btn-sm', 'data-testid': 'output-download', onclick: onDownload }, '下载完整日志'),
    );
    this.el = h(
      'div',
      { class: 'output' },
      h(
        'div',
        { class: 'output-head' },
        h('span', { class: 'output-label' }, '输出'),
        this.legend,
        h('span', { class: 'grow' }),
        h('label', { class: 'follow small', title: '有新输出时滚动到最新一行；向上滚动时自动暂停' }, this.followInput, ' 跟随最新输出'),
      ),
      this.trimLine,
      this.box,
    );
  }

  /** Add text of one stream ('stdout' | 'stderr'). */
  append(text, stream = 'stdout') {
    if (!text) return;
    // The reader scrolled up since the last scroll to the end, and its scroll event has not come yet: stop following
    // now, or this append would take them back down.
    if (this.follow && this.box.clientHeight > 0 && this.box.scrollTop < this.autoTop - BOTTOM_PX) this.setFollow(false);
    const parts = text.split('\n');
    const last = parts.pop(); // after the last newline: the start of a line still open
    for (const part of parts) {
      this.write(stream, part.endsWith('\r') ? part.slice(0, -1) : part);
      this.open[stream] = null;
    }
    if (last) this.write(stream, last);
    if (stream === 'stderr') this.legend.hidden = false;
    this.trim();
    if (this.follow) this.scrollToEnd();
  }

  /** Polling: show `full` (inspect's Output, maybe only its tail), appending what is new when it can. */
  sync(full) {
    const text = full || '';
    if (text === this.synced) return;
    if (text.startsWith(this.synced)) {
      this.append(text.slice(this.synced.length));
    } else {
      // The tail window moved on: shown afresh, at the same place unless following.
      const top = this.box.scrollTop;
      this.reset();
      this.append(text);
      if (!this.follow) this.box.scrollTop = top;
    }
    this.synced = text;
  }

  reset() {
    this.box.replaceChildren();
    this.chars = 0;
    this.lines = 0;
    this.droppedChars = 0;
    this.open = { stdout: null, stderr: null };
    this.synced = '';
    this.trimLine.hidden = true;
  }

  isEmpty() {
    return this.chars === 0 && this.lines === 0;
  }

  /** { text, stream } of the newest line that is not blank, or null. */
  latest() {
    let el = this.box.lastChild;
    for (let n = 0; el && n < 50; n += 1, el = el.previousSibling) {
      const text = el.textContent;
      if (text.trim()) return { text, stream: el.dataset.stream || 'stdout' };
    }
    return null;
  }

  /** Called when the box becomes visible again (its scroll position was lost while hidden). */
  shown() {
    if (this.follow) this.scrollToEnd();
  }

  write(stream, text) {
    let line = this.open[stream];
    // Another stream wrote since: this text starts a line of its own.
    if (!line || line !== this.box.lastChild) {
      line = h('span', { class: 'ln', 'data-stream': stream });
      this.box.append(line);
      this.open[stream] = line;
      this.lines += 1;
    }
    if (!text) return;
    // appendData leaves ranges in this node alone: a selection survives.
    if (line.firstChild) line.firstChild.appendData(text);
    else line.append(document.createTextNode(text));
    this.chars += text.length;
  }

  trim() {
    if (this.chars <= KEEP_CHARS * SLACK && this.lines <= KEEP_LINES * SLACK) return;
    const before = this.box.scrollHeight;
    while (this.chars > KEEP_CHARS || this.lines > KEEP_LINES) {
      const first = this.box.firstChild;
      if (!first) break;
      if (first === this.box.lastChild) {
        // One huge line: cut its beginning.
        const cut = this.chars - KEEP_CHARS;
        first.firstChild.deleteData(0, cut);
        this.chars -= cut;
        this.droppedChars += cut;
        break;
      }
      const n = first.textContent.length;
      if (this.open.stdout === first) this.open.stdout = null;
      if (this.open.stderr === first) this.open.stderr = null;
      first.remove();
      this.chars -= n;
      this.droppedChars += n;
      this.lines -= 1;
    }
    // Content went away above what the reader looks at: move back by as much, so nothing jumps.
    if (!this.follow) this.box.scrollTop -= before - this.box.scrollHeight;
    this.trimLine.hidden = false;
    this.trimNote.textContent = `为保持页面流畅，只显示最新的 ${Math.round(KEEP_CHARS / 1024)} KiB 输出，前面约 ${kib(this.droppedChars)} 未显示。`;
  }

  scrollToEnd() {
    this.box.scrollTop = this.box.scrollHeight;
    this.autoTop = this.box.scrollTop;
  }

  onScroll() {
    if (!this.box.clientHeight) return; // hidden: not the reader's doing
    const gap = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight;
    this.setFollow(gap <= BOTTOM_PX);
  }

  setFollow(on, { scroll = false } = {}) {
    this.follow = on;
    this.followInput.checked = on;
    this.box.dataset.follow = on ? 'on' : 'off';
    if (on && scroll) this.scrollToEnd();
  }
}

function kib(chars) {
  return chars < 1024 * 1024 ? `${Math.max(1, Math.round(chars / 1024))} KiB` : `${(chars / 1024 / 1024).toFixed(1)} MiB`;
}
