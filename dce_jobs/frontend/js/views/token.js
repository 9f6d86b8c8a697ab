// Asks for the API token when the service answers 401. Resolves with the token or null.
import { h } from '../dom.js';
import { button, modal } from '../ui.js';

export function askForToken(rejected) {
  const input = h('input', {
    type: 'password',
    class: 'mono',
    'data-testid': 'token-input',
    autocomplete: 'off',
    'aria-label': 'API 令牌',
  });
  const error = h('div', { class: 'field-error', 'data-testid': 'token-error' });
  const submit = () => {
    const token = input.value.trim();
    if (!token) {
      error.textContent = '请输入令牌';
      return;
    }
    dlg.close(token);
  };
  const message = rejected
    ? h('div', { class: 'alert alert-error', 'data-testid': 'token-message' }, '令牌被拒绝：请输入正确的 API 令牌。')
    : h('div', { class: 'alert alert-info', 'data-testid': 'token-message' }, '此 dce-jobs 服务需要 API 令牌才能访问。');
  const dlg = modal({
    title: 'API 令牌',
    testid: 'token-dialog',
    body: h(
      'form',
      { class: 'form', onsubmit: (e) => (e.preventDefault(), submit()) },
      message,
      h(
        'label',
        { class: 'field' },
        h('span', { class: 'field-label' }, '令牌'),
        input,
        h('span', { class: 'field-hint' }, '即服务的 DCE_JOBS_API_TOKEN。只保存在本次浏览器会话中，关闭浏览器后需重新输入。'),
        error,
      ),
    ),
    actions: [
      button('取消', () => dlg.close(null), { testid: 'token-cancel' }),
      button('确定', submit, { kind: 'primary', testid: 'token-submit' }),
    ],
  });
  input.focus();
  return dlg.closed;
}
