// The retry dialog: which targets a retry takes, and whether they follow their Swarm slots.
import { h, shortId } from '../dom.js';
import { isFinal, outcome, statusText } from '../status.js';
import { button, modal } from '../ui.js';

/** Which targets a retry takes (those that did not end with exit code 0), asked before anything starts. */
export async function confirmRetry(results, hostnames) {
  const chosen = results.filter((r) => isFinal(r) && outcome(r).tone !== 'ok');
  const pin = h('input', { type: 'checkbox', 'data-testid': 'retry-pin' });
  const where = (r) => hostnames.get(r.NodeId) || shortId(r.NodeId, 12);
  const body = h(
    'div',
    {},
    h('p', { class: 'confirm-text' }, `将在新的一次执行中重试以下 ${chosen.length} 个未以退出码 0 结束的容器：`),
    h(
      'ul',
      { class: 'retry-list' },
      chosen.map((r) =>
        h(
          'li',
          { 'data-testid': 'retry-target', 'data-container-id': r.ContainerId },
          h('span', { class: 'mono' }, shortId(r.ContainerId)),
          ` · ${where(r)}`,
          r.Slot != null ? ` · 任务槽位 ${r.Slot}` : '',
          ` · ${outcome(r).label}（${statusText(r)}）`,
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted small', 'data-testid': 'retry-slots-note' },
      '默认在每个容器所属 Swarm 任务槽位的当前任务中执行：若 Swarm 已替换了该任务，就在新的容器中执行（旧容器 ID 会记录下来）；槽位没有运行中的任务时，该容器直接记为失败。',
    ),
    h('label', { class: 'check' }, pin, ' 仍在原来的容器中执行（不跟随任务槽位）'),
  );
  const cancel = button('取消', () => dlg.close(false), { testid: 'confirm-cancel' });
  const ok = button('重试', () => dlg.close(true), { kind: 'primary', testid: 'confirm-ok' });
  const dlg = modal({ title: '重试失败的容器', body, actions: [cancel, ok], testid: 'confirm-dialog' });
  cancel.focus();
  if (!(await dlg.closed)) return null;
  return pin.checked ? { FollowSlots: false } : undefined;
}
