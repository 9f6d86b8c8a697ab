// Shared pieces: badges, alerts, modal dialogs, the confirm box and toasts.
import { h } from './dom.js';
import { describe } from './errors.js';

export function badge({ label, tone }, testid) {
  return h('span', { class: `badge badge-${tone}`, 'data-testid': testid }, label);
}

export function alertBox(err, testid = 'error') {
  return h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': testid }, describe(err));
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
  el.addEventListener('close', () => {
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

export function toast(text, tone = 'ok') {
  if (!toastRoot) {
    toastRoot = h('div', { class: 'toasts', 'aria-live': 'polite' });
    document.body.append(toastRoot);
  }
  const item = h('div', { class: `toast toast-${tone}`, 'data-testid': 'toast' }, text);
  toastRoot.append(item);
  setTimeout(() => item.remove(), 4000);
}
