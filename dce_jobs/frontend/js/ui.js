// Shared pieces: badges, alerts, modal dialogs, the confirm box and toasts.
import { h } from './dom.js';
import { details, titleOf, warningTitle } from './errors.js';

export function badge({ label, tone }, testid) {
  return h('span', { class: `badge badge-${tone}`, 'data-testid': testid }, label);
}

/** An error in the panel's words, with the server's own words on a details line below. */
export function alertBox(err, testid = 'error') {
  const more = details(err);
  return h(
    'div',
    { class: 'alert alert-error', role: 'alert', 'data-testid': testid },
    h('div', { class: 'alert-title' }, titleOf(err)),
    more ? h('div', { class: 'alert-details', 'data-testid': `${testid}-details` }, more) : null,
  );
}

/** The Warnings of a saved job ({"id", "message"} each): what they mean, and the server's words. */
export function warningBox(warnings, testid = 'job-warnings') {
  const box = h(
    'div',
    { class: 'alert alert-warn', role: 'status', 'data-testid': testid, title: '点击关闭', onclick: () => box.remove() },
    warnings.map((w) =>
      h(
        'div',
        { class: 'warning', 'data-testid': 'job-warning', 'data-warning-id': w.id },
        h('div', { class: 'alert-title' }, warningTitle(w)),
        h('div', { class: 'alert-details' }, w.message),
      ),
    ),
  );
  return box;
}

export function button(label, onclick, { kind = 'default', testid, title, small = false, type = 'button' } = {}) {
  const cls = `btn btn-${kind}${small ? ' btn-sm' : ''}`;
  return h('button', { type, class: cls, onclick, 'data-testid': testid, title }, label);
}

export function spinner(text = '加载中…') {
  return h('div', { class: 'loading' }, h('span', { class: 'spin' }), text);
}

/**
 * A modal <dialog>. `body` and `actions` are nodes; returns { el, close, closed } where
 * `closed` resolves with the value given to close().
 */
// Open dialogs, so that navigating (a link, Back, Forward) closes them instead of leaving them over another page.
const openDialogs = new Set();

/** Close every open dialog as if cancelled. */
export function closeDialogs() {
  for (const dlg of [...openDialogs]) dlg.close(null);
}

export function modal({ title, body, actions = [], testid, wide = false, onclose }) {
  let resolve;
  const closed = new Promise((r) => (resolve = r));
  let result = null;
  const close = (value = null) => {
    result = value;
    if (el.open) el.close();
  };
  const el = h(
    'dialog',
    { class: `modal${wide ? ' modal-wide' : ''}`, 'data-testid': testid, 'aria-label': title },
    h(
      'header',
      { class: 'modal-head' },
      h('h2', {}, title),
      h('button', { type: 'button', class: 'modal-x', 'aria-label': '关闭', onclick: () => close(null) }, '×'),
    ),
    h('div', { class: 'modal-body' }, body),
    actions.length ? h('footer', { class: 'modal-foot' }, actions) : null,
  );
  const handle = { el, close };
  openDialogs.add(handle);
  el.addEventListener('close', () => {
    openDialogs.delete(handle);
    el.remove();
    if (onclose) onclose(result);
    resolve(result);
  });
  document.body.append(el);
  el.showModal();
  return { el, close, closed };
}

export function confirmBox({ title, message, confirmText = '确定', danger = false, testid = 'confirm-dialog' }) {
  const ok = button(confirmText, () => dlg.close(true), { kind: danger ? 'danger' : 'primary', testid: 'confirm-ok' });
  const cancel = button('取消', () => dlg.close(false), { testid: 'confirm-cancel' });
  const dlg = modal({ title, body: h('p', { class: 'confirm-text' }, message), actions: [cancel, ok], testid });
  cancel.focus();
  return dlg.closed.then(Boolean);
}

let toastRoot;

// Bottom right, where they cover no page action; a click dismisses one early.
export function toast(text, tone = 'ok', { ms = 4000 } = {}) {
  if (!toastRoot) {
    toastRoot = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastRoot);
  }
  const item = h('div', { class: `toast toast-${tone}`, 'data-testid': 'toast', title: '点击关闭' }, text);
  item.addEventListener('click', () => item.remove());
  toastRoot.append(item);
  setTimeout(() => item.remove(), ms);
}
