// Edit / delete / start, shared by the job list and the job page.
import { api } from '../api.js';
import { describe } from '../errors.js';
import { confirmBox, toast } from '../ui.js';
import { openJobForm } from './form.js';
import { openStartDialog } from './start.js';

export const jobHref = (jobId) => `#/jobs/${encodeURIComponent(jobId)}`;
export const executionHref = (jobId, executorId) =>
  `${jobHref(jobId)}/executions/${encodeURIComponent(executorId)}`;

export async function editJob(job) {
  const saved = await openJobForm(job);
  if (saved) toast(`作业「${saved.Name}」已保存`);
  return saved;
}

export async function deleteJob(job) {
  const ok = await confirmBox({
    title: '删除作业',
    message: `确定删除作业「${job.Name}」吗？它的全部执行记录和输出也会删除，正在执行的会被停止。`,
    confirmText: '删除',
    danger: true,
  });
  if (!ok) return false;
  try {
    await api.deleteJob(job.JobId);
  } catch (err) {
    toast(describe(err), 'error');
    return false;
  }
  toast(`作业「${job.Name}」已删除`);
  return true;
}

/** Opens the start dialog and goes to the new execution. */
export async function startJob(job) {
  const executorId = await openStartDialog(job);
  if (executorId) location.hash = executionHref(job.JobId, executorId);
}
