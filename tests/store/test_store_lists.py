"""The lists on every store with a few thousand records: filters, order, paging, totals, LastRun, histories, audit."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dce_jobs.errors import Conflict, NotFound
from dce_jobs.models import AuditEntry, Execution, ExecutionState, Job, LastRun, Summary
from dce_jobs.queries import AuditQuery, ExecutionQuery, JobQuery, TimeRange, Window
from dce_jobs.store.base import Store, execution_to_doc, job_to_doc, summary_to_doc
from dce_jobs.store.mongo import MongoStore
from dce_jobs.store.mongo_lists import last_run_doc
from tests.store.records import make_execution, make_job, results_of

JOBS = 2000
#: mongomock (the mongo-fake backend) sorts and counts in pure Python, O(n) a query: fewer records there
FAKE_JOBS = 400
APPS = ("shop", "blog", "crm")
#: every 4th job ran: its runs end in this order of states (the newest is its LastRun)
ENDS = ("succeeded", "failed", "stopped")


def _summary(state: str, ended_at: float) -> Summary:
    counts = dict.fromkeys(("waiting", "running", "succeeded", "failed", "stopped"), 0)
    counts[state] = 1
    return Summary(ExecutionState(state), ended_at, counts)


async def _populate(store: Store, count: int) -> list[Job]:
    """`count` jobs over three apps; created in order, edited in reverse order; a quarter of them ran.

    On MongoDB the bulk goes in with insert_many (the wire test server takes ~10 ms a round trip) as the store
    writes it; the runs of the first 48 jobs go through the store's own create and end calls.
    """
    jobs = [_job(i) for i in range(count)]
    runs = [(i, run) for i in range(0, count, 4) for run in range(1 + (i % 8 == 0))]
    if isinstance(store, MongoStore):
        await _bulk(store, jobs, [(i, run) for i, run in runs if i >= 48])
        runs = [(i, run) for i, run in runs if i < 48]
    else:
        for job in jobs:
            await store.create_job(job)
    for i, run in runs:
        execution = _execution(jobs[i], i, run)
        await store.create_execution(execution, results_of(execution))
        final = _final(i, run)
        if final is not None and final.ended_at is not None:
            await store.end_execution(execution, state=final.state, ended_at=final.ended_at, counts=final.counts)
    return jobs


def _job(i: int) -> Job:
    app = APPS[i % 3]
    return make_job(
        f"Nightly Backup {i:04d}" if i % 10 == 0 else f"job-{i:04d}",
        app,
        service_name=f"{app}_web" if i % 2 else f"{app}_db",
        created_at=1000.0 + i // 2,  # pairs share a CreateTime: JobId breaks the tie
        updated_at=9000.0 - i,
        created_by=f"user{i % 5}",
    )


def _execution(job: Job, i: int, run: int) -> Execution:
    return dataclasses.replace(
        make_execution(job, f"{2000 + i + run / 10:.6f}", 2000.0 + i + run / 10, targets=1),
        app_name=job.app_name,
        service_name=job.service_name,
        trigger="retry" if run else "manual",
        started_by="alice",
    )


def _final(i: int, run: int) -> Summary | None:
    """How run `run` of job `i` ended; every 12th job's newest run is still running."""
    if i % 12 == 0 and run == (i % 8 == 0):
        return None
    return _summary(ENDS[(i // 4 + run) % 3], 2000.5 + i + run / 10)


async def _bulk(store: MongoStore, jobs: list[Job], runs: list[tuple[int, int]]) -> None:
    executions, newest = [], {}
    for i, run in runs:
        execution = _execution(jobs[i], i, run)
        final = _final(i, run)
        done = summary_to_doc(final) if final else {"state": "running", "ended_at": None, "counts": None}
        executions.append({**execution_to_doc(execution), **done})
        newest[i] = last_run_doc(execution.executor_id, execution.created_at, done["state"], done["ended_at"])
    docs = [{**job_to_doc(job), **({"last_run": newest[i]} if i in newest else {})} for i, job in enumerate(jobs)]
    db = store._db  # noqa: SLF001 - the test writes what the store would, in bulk
    await db["jobs"].insert_many(docs)
    if executions:
        await db["executions"].insert_many(executions)


def _last_start(job: Job) -> float:
    """When the newest run of a populated job started; one that never ran orders before every time."""
    i = int(job.name[-4:])
    return 2000.0 + i + (i % 8 == 0) / 10 if i % 4 == 0 else float("-inf")


def _order(jobs: list[Job], key: str, descending: bool) -> list[str]:
    attribute = {
        "created_at": lambda j: j.created_at,
        "updated_at": lambda j: j.updated_at,
        "last_started_at": _last_start,
    }.get(key, lambda j: j.name.casefold())
    return [j.job_id for j in sorted(jobs, key=lambda j: (attribute(j), j.job_id), reverse=descending)]


async def _ids(store: Store, query: JobQuery) -> tuple[list[str], int]:
    page = await store.find_jobs(query)
    return [j.job_id for j in page.items], page.total


async def test_lists_with_a_few_thousand_records(store: Store, request: pytest.FixtureRequest) -> None:
    """One population per backend, then every list: the job list, LastRun, the seed's list, the histories."""
    backend = request.node.callspec.params["store"]
    if backend == "mongo-wire-txn":
        pytest.skip("reads only: the same server as mongo-wire (transactions change only writes)")
    count = FAKE_JOBS if backend == "mongo-fake" else JOBS
    jobs = await _populate(store, count)
    await _job_list(store, jobs)
    await _last_run(store, jobs)
    await _seed_list(store, jobs)
    await _history(store, jobs)


async def _job_list(store: Store, jobs: list[Job]) -> None:
    total_jobs = len(jobs)
    for sort in ("created_at", "updated_at", "name_fold", "last_started_at"):
        for descending in (False, True):
            expected = _order(jobs, sort, descending)
            first, total = await _ids(store, JobQuery(sort=sort, descending=descending, window=Window(1, 50)))
            third, _ = await _ids(store, JobQuery(sort=sort, descending=descending, window=Window(3, 50)))
            assert (first, third, total) == (expected[:50], expected[100:150], total_jobs)
    # the pages where the jobs that never ran meet those that did, both ways (40 a page: neither edge on a page's)
    ran = total_jobs // 4
    for descending, page in ((False, (total_jobs - ran) // 40 + 1), (True, ran // 40 + 1)):
        expected = _order(jobs, "last_started_at", descending)
        window = Window(page, 40)
        query = JobQuery(sort="last_started_at", descending=descending, window=window)
        assert (await _ids(store, query))[0] == expected[window.offset : window.offset + 40]
    crm = [j for j in jobs if j.app_name == "crm"]
    query = JobQuery(app_name="crm", sort="last_started_at", descending=True, window=Window(1, 500))
    assert await _ids(store, query) == (_order(crm, "last_started_at", True)[:500], len(crm))
    shop = [j for j in jobs if j.app_name == "shop"]
    ids, total = await _ids(store, JobQuery(app_name="shop", window=Window(2, 100)))
    assert (ids, total) == (_order(shop, "created_at", False)[100:200], len(shop))
    web = [j for j in shop if j.service_name == "shop_web"]
    assert await _ids(store, JobQuery(app_name="shop", service_name="shop_web")) == (
        _order(web, "created_at", False),
        len(web),
    )
    backups = [j for j in jobs if "backup" in j.name.casefold()]
    ids, total = await _ids(store, JobQuery(name_part="backup", sort="name_fold", window=Window(1, 500)))
    assert (ids, total) == (_order(backups, "name_fold", False), total_jobs // 10)
    span = [j for j in jobs if 1100 <= j.created_at <= 1199 and j.updated_at >= 8500]
    query = JobQuery(created=TimeRange(1100, 1199), updated=TimeRange(after=8500))
    assert await _ids(store, query) == (_order(span, "created_at", False), len(span))
    past_the_end, total = await _ids(store, JobQuery(window=Window(1000, 50)))
    assert (past_the_end, total) == ([], total_jobs)


async def _last_run(store: Store, jobs: list[Job]) -> None:
    total_jobs = len(jobs)
    never, total = await _ids(store, JobQuery(last_state="never", window=Window(1, 500)))
    assert total == total_jobs - total_jobs // 4
    assert set(never) <= {j.job_id for i, j in enumerate(jobs) if i % 4}
    running = await store.find_jobs(JobQuery(last_state="running"))
    assert {j.job_id for j in running.items} == {j.job_id for i, j in enumerate(jobs) if i % 12 == 0}
    assert all(j.last_run is not None and j.last_run.ended_at is None for j in running.items)
    for state in ENDS:
        page = await store.find_jobs(JobQuery(last_state=state))
        assert page.total == len(page.items) > 0
        assert all(j.last_run is not None and j.last_run.state == state for j in page.items)
    twice = await store.get_job(jobs[8].job_id)
    ended = ENDS[(8 // 4 + 1) % 3]
    assert twice.executors == ("2008.000000", "2008.100000")
    assert twice.last_run == LastRun("2008.100000", ended, 2008.6)
    assert (await store.get_job(jobs[1].job_id)).last_run is None


async def _seed_list(store: Store, jobs: list[Job]) -> None:
    listed = await store.list_jobs()
    assert [j.job_id for j in listed] == _order(jobs, "created_at", False)
    by_id = {j.job_id: j for j in listed}
    assert by_id[jobs[8].job_id].executors == ("2008.000000", "2008.100000")
    assert by_id[jobs[4].job_id].executors == ("2004.000000",)
    assert by_id[jobs[5].job_id].executors == ()
    shop = await store.list_jobs(app_name="shop")
    assert [j.job_id for j in shop] == _order([j for j in jobs if j.app_name == "shop"], "created_at", False)
    assert next(j for j in shop if j.job_id == jobs[12].job_id).executors == ("2012.000000",)


async def _history(store: Store, jobs: list[Job]) -> None:
    total_jobs = len(jobs)
    runs = total_jobs // 4 + total_jobs // 8
    names = {j.job_id: j.name for j in jobs}
    page = await store.find_executions(ExecutionQuery(window=Window(1, 20)))
    assert page.total == runs
    assert [e.job_name for e in page.items] == [names[e.job_id] for e in page.items]
    assert [e.created_at for e in page.items] == sorted((e.created_at for e in page.items), reverse=True)
    newest = max(2000 + i + run / 10 for i in range(0, total_jobs, 4) for run in range(1 + (i % 8 == 0)))
    assert page.items[0].executor_id == f"{newest:.6f}"
    one = await store.find_executions(ExecutionQuery(job_id=jobs[8].job_id))
    assert [(e.executor_id, e.trigger, e.started_by) for e in one.items] == [
        ("2008.100000", "retry", "alice"),
        ("2008.000000", "manual", "alice"),
    ]
    first = one.items[1]
    assert (first.state, first.ended_at, first.app_name, first.targets) == (ENDS[2], 2008.5, "crm", 1)
    assert first.counts is not None and first.counts[ENDS[2]] == 1
    running = await store.find_executions(ExecutionQuery(state="running", window=Window(1, 500)))
    assert running.total == len(running.items) == len(range(0, total_jobs, 12))
    assert all(e.counts is None and e.ended_at is None for e in running.items)
    shop_db = await store.find_executions(
        ExecutionQuery(app_name="shop", service_name="shop_db", created=TimeRange(2100, 2400), window=Window(2, 5))
    )
    expected = sorted(
        (2000 + i + run / 10 for i in range(0, total_jobs, 4) for run in range(1 + (i % 8 == 0)) if i % 3 == 0),
        reverse=True,
    )
    expected = [t for t in expected if 2100 <= t <= 2400]
    assert ([e.created_at for e in shop_db.items], shop_db.total) == (expected[5:10], len(expected))
    assert [e.job_name for e in shop_db.items] == [names[e.job_id] for e in shop_db.items]
    deep = await store.find_executions(ExecutionQuery(state="failed", window=Window(3, 10)))
    assert len(deep.items) == 10 and all(e.job_name == names[e.job_id] for e in deep.items)


async def test_audit_trail_filters_pages_newest_first(store: Store) -> None:
    for i in range(300):
        entry = AuditEntry(
            at=1000.0 + i // 2, user=f"u{i % 3}", action=("create", "edit", "start")[i % 3], job_id=f"j{i % 7}"
        )
        await store.add_audit(dataclasses.replace(entry, fields=("Cmd",) if entry.action == "edit" else ()))
    page = await store.find_audit(AuditQuery(window=Window(1, 10)))
    assert page.total == 300
    assert [e.at for e in page.items] == [1149.0 - i // 2 for i in range(10)]
    assert len({e.audit_id for e in page.items}) == 10
    query = AuditQuery(user="u1", action="edit", at=TimeRange(1010, 1100), window=Window(1, 500))
    edits = await store.find_audit(query)
    expected = [1000.0 + i // 2 for i in range(300) if i % 3 == 1 and 1010 <= 1000 + i // 2 <= 1100]
    assert [e.at for e in edits.items] == sorted(expected, reverse=True)
    assert all(e.fields == ("Cmd",) for e in edits.items)
    second = await store.find_audit(AuditQuery(job_id="j3", window=Window(2, 7)))
    everything = await store.find_audit(AuditQuery(job_id="j3", window=Window(1, 500)))
    assert [e.audit_id for e in second.items] == [e.audit_id for e in everything.items][7:14]


async def test_an_operation_that_fails_leaves_no_audit_entry(store: Store) -> None:
    job = make_job("backup", "shop")
    await store.create_job(job, audit=_entry("create", job))
    with pytest.raises(Conflict):
        await store.create_job(make_job("backup", "shop"), audit=_entry("create", job))
    with pytest.raises(NotFound):
        await store.update_job(make_job("other"), audit=_entry("edit", job))
    with pytest.raises(NotFound):
        await store.delete_job("no-such-job", audit=_entry("delete", job))
    execution = make_execution(job, "1.000000", 1.0)
    await store.create_execution(execution, results_of(execution), audit=_entry("start", job))
    with pytest.raises(Conflict):
        await store.create_execution(execution, results_of(execution), audit=_entry("start", job))
    trail = await store.find_audit(AuditQuery())
    assert [e.action for e in trail.items] == ["start", "create"]


def _entry(action: str, job: Job, **more: Any) -> AuditEntry:
    return AuditEntry(at=1.0 if action == "create" else 2.0, user="alice", action=action, job_id=job.job_id, **more)


async def test_name_filter_is_a_plain_substring(store: Store) -> None:
    names = ["100% done", "a_b", "a.b", "(x)*", "ÉTÉ backup", "été", "x" * 10]
    jobs = {name: make_job(name) for name in names}
    for job in jobs.values():
        await store.create_job(job)

    async def matching(part: str) -> set[str]:
        return {j.name for j in (await store.find_jobs(JobQuery(name_part=part.casefold()))).items}

    assert await matching("%") == {"100% done"}
    assert await matching("_") == {"a_b"}
    assert await matching(".") == {"a.b"}
    assert await matching(".*") == set()
    assert await matching("(x)*") == {"(x)*"}
    assert await matching("été") == {"ÉTÉ backup", "été"}
    assert await matching("xxxxxxxxxxx") == set()


async def test_a_listed_job_lists_with_its_edits(store: Store) -> None:
    """Jobs a list has read once (and decoded) come back edited after an edit, in both lists."""
    job = make_job("before")
    await store.create_job(job)
    assert [j.name for j in (await store.find_jobs(JobQuery())).items] == ["before"]
    assert [j.name for j in await store.list_jobs()] == ["before"]

    await store.update_job(job.replace(name="after", cmd="echo edited", updated_at=2000.0))

    page = await store.find_jobs(JobQuery())
    assert [(j.name, j.cmd, j.updated_at) for j in page.items] == [("after", "echo edited", 2000.0)]
    assert [(j.name, j.cmd) for j in await store.list_jobs()] == [("after", "echo edited")]


async def test_execution_entries_carry_their_jobs_current_name(store: Store) -> None:
    """JobName of a history entry is the job's name now: a rename shows at once, in both histories."""
    backup, report = make_job("backup"), make_job("report <b>&</b>")
    for job in (backup, report):
        await store.create_job(job)
    for i, job in enumerate((backup, report, backup)):
        execution = make_execution(job, f"x{i}", 2000.0 + i)
        await store.create_execution(execution, results_of(execution))

    await store.update_job(backup.replace(name="nightly backup", updated_at=2000.0))

    across = await store.find_executions(ExecutionQuery(window=Window(1, 20)))
    assert [(e.executor_id, e.job_name) for e in across.items] == [
        ("x2", "nightly backup"),
        ("x1", "report <b>&</b>"),
        ("x0", "nightly backup"),
    ]
    one = await store.find_executions(ExecutionQuery(job_id=report.job_id))
    assert [(e.executor_id, e.job_name) for e in one.items] == [("x1", "report <b>&</b>")]
    second = await store.find_executions(ExecutionQuery(window=Window(2, 2)))
    assert [(e.executor_id, e.job_name) for e in second.items] == [("x0", "nightly backup")]

    await store.delete_job(backup.job_id)  # deleting a job deletes its executions: none is left nameless

    after = await store.find_executions(ExecutionQuery())
    assert [(e.executor_id, e.job_name) for e in after.items] == [("x1", "report <b>&</b>")]
