// The start dialog: pick running containers of the job's service. Resolves with the new ExecutorId or null.
import { api } from '../api.js';
import { h, replace, shortId } from '../dom.js';
import { ApiError, fieldErrors, fieldMessage } from '../errors.js';
import { describeRolling, readRolling, rollingHint, rollingInputs, rollingLabel, ROLLING_FIELDS } from '../rolling.js';
import { paramInputs } from '../params.js';
import { effectiveTimeout, parseTimeout, serverDefaults } from '../timeout.js';
import { alertBox, button, modal, spinner } from '../ui.js';

export function openStartDialog(job) {
  const content = h('div', { class: 'start-body' }, spinner('正在获取运行中的容器…'));
  const errorSlot = h('div', {});
  const counter = h('span', { class: 'muted', 'data-testid': 'selected-count' });
  const startBtn = button('执行', () => start(), { kind: 'primary', testid: 'confirm-start' });
  startBtn.disabled = true;
  // Optional: a timeout for this run only; empty keeps the job's own.
  const timeoutInput = h('input', {
    type: 'text',
    inputmode: 'decimal',
    class: 'timeout-input',
    'data-testid': 'start-timeout',
    placeholder: job.Timeout == null ? '默认' : String(job.Timeout),
    autocomplete: 'off',
    'aria-label': '本次超时（秒）',
  });
  const timeoutError = h('span', { class: 'field-error', 'data-testid': 'start-timeout-error' });
  const timeoutHint = h('span', { class: 'field-hint', 'data-testid': 'start-timeout-hint' });
  const hint = (defaults) =>
    (timeoutHint.textContent = `可选；留空则使用作业的设置（${effectiveTimeout(job.Timeout, defaults)}）`);
  hint(null);
  serverDefaults().then(hint);
  const timeoutField = h(
    'div',
    { class: 'run-options field', 'data-field': 'Timeout' },
    h(
      'label',
      { class: 'inline-field' },
      h('span', { class: 'field-label' }, '本次超时（秒）'),
      timeoutInput,
      timeoutHint,
    ),
    timeoutError,
  );
  timeoutInput.addEventListener('input', () => {
    timeoutError.textContent = '';
    timeoutField.classList.remove('invalid');
  });
  const params = paramInputs(job);
  // Optional per-run overrides of the job's rolling settings, folded away: most runs keep the job's.
  const rolling = rollingInputs(null, { inherit: job, prefix: 'start' });
  const rollingFields = {};
  for (const name of ROLLING_FIELDS) {
    const error = h('span', { class: 'field-error', 'data-testid': `start-error-${name}` });
    const wrap = h(
      'label',
      { class: 'field', 'data-field': name },
      h('span', { class: 'field-label' }, rollingLabel(name)),
      rolling[name],
      h('span', { class: 'field-hint' }, rollingHint(name)),
      error,
    );
    rolling[name].addEventListener(name === 'FailureAction' ? 'change' : 'input', () => {
      error.textContent = '';
      wrap.classList.remove('invalid');
    });
    rollingFields[name] = { wrap, error };
  }
  const rollingSection = h(
    'details',
    { class: 'run-rolling', 'data-testid': 'start-rolling' },
    h(
      'summary',
      { 'data-testid': 'start-rolling-toggle' },
      '分批执行',
      h('span', { class: 'field-hint' }, ` 本次可选，留空沿用作业设置（${describeRolling(job)}）`),
    ),
    h('div', { class: 'grid-2' }, rollingFields.Parallelism.wrap, rollingFields.Delay.wrap),
    h('div', { class: 'grid-2' }, rollingFields.FailureAction.wrap, rollingFields.MaxFailureRatio.wrap),
  );
  function markRolling(name, text) {
    const f = name === 'Timeout' ? { wrap: timeoutField, error: timeoutError } : rollingFields[name];
    if (!f) return false;
    if (typeof text === 'string') f.error.textContent = text;
    else replace(f.error, text.text, text.details ? h('div', { class: 'field-error-details' }, text.details) : null);
    f.wrap.classList.add('invalid');
    if (name !== 'Timeout') rollingSection.open = true;
    return true;
  }
  const dlg = modal({
    title: `执行作业：${job.Name}`,
    body: h(
      'div',
      {},
      h('p', { class: 'muted' }, '服务 ', h('code', {}, job.ServiceName), ' 中运行中的任务容器'),
      errorSlot,
      content,
      params.section,
      timeoutField,
      rollingSection,
    ),
    actions: [counter, button('取消', () => dlg.close(null), { testid: 'cancel-start' }), startBtn],
    testid: 'start-dialog',
    wide: true,
  });

  let containers = [];
  const boxes = [];
  const all = h('input', { type: 'checkbox', 'data-testid': 'select-all-containers', 'aria-label': '全选' });
  all.addEventListener('change', () => {
    boxes.forEach((b) => (b.checked = all.checked));
    update();
  });

  function selected() {
    return containers.filter((_, i) => boxes[i].checked);
  }

  function update() {
    const n = selected().length;
    counter.textContent = `已选择 ${n} / ${containers.length} 个容器`;
    all.checked = n > 0 && n === containers.length;
    all.indeterminate = n > 0 && n < containers.length;
    startBtn.disabled = n === 0;
  }

  function showError(err, what) {
    replace(errorSlot, alertBox(err instanceof ApiError ? err : new Error(String(err)), 'start-error'));
    if (what) errorSlot.firstChild.prepend(h('strong', {}, what), ' ');
  }

  function row(c, i) {
    const box = h('input', { type: 'checkbox', 'data-testid': 'container-checkbox', onchange: update });
    boxes[i] = box;
    return h(
      'tr',
      { 'data-testid': 'container-row', 'data-container-id': c.ContainerId, onclick: (e) => toggle(e, box) },
      h('td', { class: 'col-check' }, box),
      h('td', {}, c.NodeHostname || '—'),
      h('td', { class: 'mono', title: c.NodeId }, shortId(c.NodeId, 25)),
      h('td', { class: 'mono', title: c.ContainerId }, shortId(c.ContainerId)),
      h('td', {}, c.TaskName || '—'),
      h('td', {}, c.State === 'running' ? '运行中' : c.State || '—'),
    );
  }

  function toggle(e, box) {
    if (e.target === box) return;
    box.checked = !box.checked;
    update();
  }

  api
    .containers(job.ServiceName)
    .then((list) => {
      containers = list || [];
      if (!containers.length) {
        replace(content, h('div', { class: 'empty', 'data-testid': 'no-containers' }, '该服务当前没有运行中的容器'));
        update();
        return;
      }
      replace(
        content,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table', 'data-testid': 'container-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { class: 'col-check' }, all),
                h('th', {}, '节点'),
                h('th', {}, '节点 ID'),
                h('th', {}, '容器 ID'),
                h('th', {}, '任务名称'),
                h('th', {}, '状态'),
              ),
            ),
            h('tbody', {}, containers.map(row)),
          ),
        ),
      );
      update();
    })
    .catch((err) => {
      replace(content);
      showError(err, `无法获取服务 ${job.ServiceName} 的容器。`);
    });

  async function start() {
    const targets = selected().map((c) => ({ ContainerId: c.ContainerId, NodeId: c.NodeId }));
    const timeout = parseTimeout(timeoutInput.value);
    if (timeout.error) {
      timeoutError.textContent = timeout.error;
      timeoutField.classList.add('invalid');
      timeoutInput.focus();
      return;
    }
    const overrides = readRolling(rolling);
    const bad = Object.entries(overrides.errors);
    bad.forEach(([name, text]) => markRolling(name, text));
    if (bad.length) return;
    startBtn.disabled = true;
    replace(errorSlot);
    try {
      const values = params.read();
      const body = { Timeout: timeout.value, ...overrides.values, Params: Object.keys(values).length ? values : null };
      const updated = await api.startJob(job.JobId, targets, body);
      dlg.close(updated.Executors[updated.Executors.length - 1]);
    } catch (err) {
      // Fields the server refused are marked where they are typed; anything else goes on top.
      const onParam = err instanceof ApiError && params.mark(err.message);
      const perField = onParam ? {} : fieldErrors(err);
      const unplaced = Object.entries(perField).filter(([k, v]) => !markRolling(k, fieldMessage(v)));
      if (!onParam && (!Object.keys(perField).length || unplaced.length)) showError(err, '启动失败。');
      startBtn.disabled = false;
    }
  }

  return dlg.closed;
}
