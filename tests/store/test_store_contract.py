"""The Store contract: every test runs on every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from dce_jobs.errors import Conflict, NotFound
from dce_jobs.models import (
    STDERR,
    STDOUT,
    ContainerResult,
    EndReason,
    FailureAction,
    LastRun,
    OutputChunk,
    Rolling,
    SecretArg,
    Status,
)
from dce_jobs.store.base import Store
from tests.store.records import make_execution, make_job, read_output, results_of, started

# -- jobs -------------------------------------------------------------------------------------------


async def test_ping(store: Store) -> None:
    await store.ping()


async def test_create_get_and_list_jobs_filtered_by_app(store: Store) -> None:
    first = make_job("backup", "shop", created_at=1.0, env=("A=1", "B=2"), timeout_s=60.0, privileged=True, user="root")
    second = make_job("cleanup", "shop", created_at=2.0)
    other = make_job("backup2", "blog", created_at=3.0)
    for job in (second, other, first):
        await store.create_job(job)

    assert await store.get_job(first.job_id) == first
    assert await store.list_jobs() == [first, second, other]
    assert await store.list_jobs(app_name="shop") == [first, second]
    assert await store.list_jobs(app_name="nobody") == []


async def test_duplicate_name_in_the_same_app_is_a_conflict(store: Store) -> None:
    await store.create_job(make_job("backup", "shop"))

    with pytest.raises(Conflict) as caught:
        await store.create_job(make_job("backup", "shop"))

    assert caught.value.error_id == "jobs_name_duplicated_error"
    assert caught.value.message == "backup"
    assert len(await store.list_jobs()) == 1


async def test_same_name_in_two_apps_is_allowed(store: Store) -> None:
    shop, blog = make_job("上线", "shop"), make_job("上线", "blog")
    await store.create_job(shop)
    await store.create_job(blog)

    assert [j.name for j in await store.list_jobs(app_name="blog")] == ["上线"]
    assert await store.get_job(shop.job_id) == shop


async def test_concurrent_creates_of_one_name_let_exactly_one_win(store: Store) -> None:
    jobs = [make_job("上线", "shop"), make_job("上线", "shop")]

    outcomes = await asyncio.gather(*(store.create_job(j) for j in jobs), return_exceptions=True)

    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"]
    winner = jobs[outcomes.index(None)]
    assert await store.list_jobs() == [winner]


async def test_update_replaces_the_definition_and_keeps_executors(store: Store) -> None:
    job = make_job("backup", "shop")
    await store.create_job(job)
    await started(store, job, "1496287694.460088", 5.0)
    changed = job.replace(
        name="backup-nightly", cmd="tar cz /data", env=("X=1",), secret_args=(SecretArg("tok", 4),), updated_at=2000.0
    )

    await store.update_job(changed)

    newest = LastRun("1496287694.460088", "running")
    assert await store.get_job(job.job_id) == changed.replace(executors=("1496287694.460088",), last_run=newest)


async def test_update_renaming_into_an_existing_name_is_a_conflict(store: Store) -> None:
    taken, job = make_job("taken", "shop"), make_job("free", "shop")
    await store.create_job(taken)
    await store.create_job(job)

    with pytest.raises(Conflict) as caught:
        await store.update_job(job.replace(name="taken"))

    assert caught.value.error_id == "jobs_name_duplicated_error"
    assert await store.get_job(job.job_id) == job


async def test_update_of_a_missing_job_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.update_job(make_job(job_id="nope"))

    assert (caught.value.error_id, caught.value.message) == ("job_id_not_found", "nope")


async def test_delete_removes_the_job_and_everything_recorded_for_it(store: Store) -> None:
    job, kept = make_job("backup"), make_job("kept")
    await store.create_job(job)
    await store.create_job(kept)
    results = await started(store, job, "1.000001", 1.0)
    kept_results = await started(store, kept, "1.000001", 1.0)
    await store.append_output(results[0], 0, b"gone")
    await store.append_output(kept_results[0], 0, b"stays")

    await store.delete_job(job.job_id)

    with pytest.raises(NotFound):
        await store.get_job(job.job_id)
    with pytest.raises(NotFound):
        await store.get_execution(job.job_id, "1.000001")
    assert await store.list_results(job.job_id, "1.000001") == []
    assert await read_output(store, results[0]) == []
    assert [r.job_id for r in await store.list_unfinished_results()] == [kept.job_id] * 2
    assert await read_output(store, kept_results[0]) == [b"stays"]
    # a new job may reuse the name and its executor ids start from nothing
    again = make_job("backup", job_id=job.job_id)
    await store.create_job(again)
    assert (await store.get_job(job.job_id)).executors == ()


async def test_delete_of_a_missing_job_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.delete_job("nope")

    assert (caught.value.error_id, caught.value.message) == ("job_id_not_found", "nope")


# -- executions -------------------------------------------------------------------------------------


async def test_executors_are_listed_oldest_first_in_get_and_list(store: Store) -> None:
    job, other = make_job("backup", created_at=1.0), make_job("other", created_at=2.0)
    await store.create_job(job)
    await store.create_job(other)
    # stored out of order; "9..." sorts after "10..." as text, so the order must come from created_at
    await started(store, job, "10.000000", 10.0)
    await started(store, job, "9.000000", 9.0)
    await started(store, job, "11.000000", 11.0)
    await started(store, other, "12.000000", 12.0)

    expected = ("9.000000", "10.000000", "11.000000")
    assert (await store.get_job(job.job_id)).executors == expected
    assert [j.executors for j in await store.list_jobs()] == [expected, ("12.000000",)]
    assert [j.executors for j in await store.list_jobs(app_name="shop")] == [expected, ("12.000000",)]


async def test_execution_round_trips(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    execution = make_execution(job, "1496287694.460088", 1496287694.460088, targets=3)

    await store.create_execution(execution, results_of(execution))

    assert await store.get_execution(job.job_id, execution.executor_id) == execution
    assert await store.list_results(job.job_id, execution.executor_id) == results_of(execution)


async def test_duplicate_executor_id_is_a_conflict(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    first = await started(store, job, "1.000001", 1.0)
    second = make_execution(job, "1.000001", 2.0, targets=3)

    with pytest.raises(Conflict) as caught:
        await store.create_execution(second, results_of(second))

    assert (caught.value.error_id, caught.value.message) == ("executor_id_taken", "1.000001")
    assert (await store.get_execution(job.job_id, "1.000001")).created_at == 1.0
    assert await store.list_results(job.job_id, "1.000001") == first


async def test_missing_execution_is_not_found(store: Store) -> None:
    job = make_job()
    await store.create_job(job)

    with pytest.raises(NotFound) as caught:
        await store.get_execution(job.job_id, "1.000001")

    assert (caught.value.error_id, caught.value.message) == ("executor_id_not_found", "1.000001")


async def test_missing_job_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.get_job("0f1e2d")

    assert (caught.value.error_id, caught.value.message) == ("job_id_not_found", "0f1e2d")


# -- results ----------------------------------------------------------------------------------------


async def test_results_are_saved_updated_and_listed_in_index_order(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    results = await started(store, job, "1.000001", 1.0, targets=12)
    done = results[10].replace(
        status=Status.FINISHED,
        exec_id="e" * 64,
        exit_code=3,
        inspect={"ExitCode": 3, "Running": False, "ProcessConfig": {"entrypoint": "sh"}},
        output_bytes=1234,
        output_truncated=True,
        started_at=5.5,
        finished_at=6.5,
        updated_at=6.5,
    )
    failed = results[2].replace(status=Status.CREATE_FAILED, error="no such container: 上线")

    for result in (done, failed, done):
        await store.save_result(result)

    listed = await store.list_results(job.job_id, "1.000001")
    assert [r.index for r in listed] == list(range(12))
    assert listed[10] == done and listed[2] == failed
    assert listed[:2] == results[:2]


async def test_save_result_without_a_prior_row_inserts_it(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    await started(store, job, "1.000001", 1.0, targets=0)
    result = ContainerResult(job_id=job.job_id, executor_id="1.000001", index=0, container_id="c", node_id="n")

    await store.save_result(result)

    assert await store.list_results(job.job_id, "1.000001") == [result]


async def test_list_unfinished_results_returns_only_open_statuses(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    results = await started(store, job, "1.000001", 1.0, targets=len(Status))
    for result, status in zip(results, Status):
        await store.save_result(result.replace(status=status))

    unfinished = await store.list_unfinished_results()

    assert [r.status for r in unfinished] == [s for s in Status if not s.is_final]
    assert all(r.job_id == job.job_id for r in unfinished)


# -- output -----------------------------------------------------------------------------------------


async def test_output_is_read_back_in_order_across_many_chunks(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    target, neighbour = await started(store, job, "1.000001", 1.0)
    chunks = [f"line {i}\n".encode() for i in range(300)]
    # written out of order, as concurrent flushes might land
    for seq in [*range(150, 300), *range(150)]:
        await store.append_output(target, seq, chunks[seq])
    await store.append_output(neighbour, 0, b"other target")

    assert await read_output(store, target) == chunks
    assert await read_output(store, neighbour) == [b"other target"]


async def test_a_batch_stores_the_chunks_of_many_targets_and_their_results(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    targets = await started(store, job, "1.000001", 1.0, targets=4)
    chunks = [
        OutputChunk(t.job_id, t.executor_id, t.index, seq, f"{t.index}/{seq}\n".encode(), ((STDOUT, 4),))
        for seq in range(3)
        for t in targets
    ]
    running = [t.replace(status=Status.RUNNING, exec_id=f"e{t.index}") for t in targets]
    ended = running[1].replace(status=Status.FINISHED, exit_code=0, output_bytes=12, end_reason=EndReason.EXITED)

    await store.write_batch(chunks, [*running, ended])
    await store.write_batch([OutputChunk(job.job_id, "1.000001", 0, 1, b"again\n", ((STDERR, 6),))], [])
    await store.write_batch([], [])

    assert await store.list_results(job.job_id, "1.000001") == [running[0], ended, running[2], running[3]]
    assert await read_output(store, targets[0]) == [b"0/0\n", b"again\n", b"0/2\n"]
    for t in targets[1:]:
        assert await read_output(store, t) == [f"{t.index}/{seq}\n".encode() for seq in range(3)]
    stderr = store.iter_output(job.job_id, "1.000001", 0, stream=STDERR)
    assert b"".join([c async for c in stderr]) == b"again\n"


async def test_iter_output_can_stop_early(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    for seq in range(40):
        await store.append_output(target, seq, bytes([seq]))

    stream = store.iter_output(target.job_id, target.executor_id, target.index)
    first = [await anext(stream) for _ in range(3)]
    await stream.aclose()  # type: ignore[attr-defined]

    assert first == [b"\x00", b"\x01", b"\x02"]


async def test_appending_the_same_seq_again_replaces_the_chunk(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)

    await store.append_output(target, 0, b"first try")
    await store.append_output(target, 0, b"retried")

    assert await read_output(store, target) == [b"retried"]


@pytest.mark.parametrize(
    ("max_bytes", "expected"),
    [
        (100, (b"aaaabbbbcccc", False)),  # everything fits
        (12, (b"aaaabbbbcccc", False)),  # exactly fits
        (11, (b"aaabbbbcccc", True)),  # cut inside the oldest chunk
        (8, (b"bbbbcccc", True)),  # cut on a chunk boundary
        (3, (b"ccc", True)),  # inside the newest chunk
        (0, (b"", True)),
    ],
)
async def test_tail_output(store: Store, max_bytes: int, expected: tuple[bytes, bool]) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    for seq, chunk in enumerate([b"aaaa", b"bbbb", b"cccc"]):
        await store.append_output(target, seq, chunk)

    assert await store.tail_output(job.job_id, "1.000001", 0, max_bytes=max_bytes) == expected


async def test_tail_output_of_many_chunks(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    chunks = [f"{i:04d}".encode() for i in range(300)]
    for seq, chunk in enumerate(chunks):
        await store.append_output(target, seq, chunk)

    tail, cut = await store.tail_output(job.job_id, "1.000001", 0, max_bytes=100)

    assert (tail, cut) == (b"".join(chunks)[-100:], True)


async def test_tail_output_of_no_output(store: Store) -> None:
    assert await store.tail_output("nope", "1.000001", 0, max_bytes=10) == (b"", False)


async def test_unicode_and_binary_bytes_round_trip(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    chunks = [bytes(range(256)), "上线 ✓ naïve\n".encode(), b"\x00" * 10, "é".encode()[:1], b"\xff\xfe"]
    for seq, chunk in enumerate(chunks):
        await store.append_output(target, seq, chunk)

    assert await read_output(store, target) == chunks
    assert await store.tail_output(job.job_id, target.executor_id, 0, max_bytes=3) == (b"\xc3\xff\xfe", True)


# -- secrets ----------------------------------------------------------------------------------------


async def test_secret_tokens_are_stored_exactly_as_given(store: Store) -> None:
    # the store only ever sees ciphertext tokens; it must not transform, drop or reorder them
    secrets = (SecretArg("gAAAAABk_opaque-token==", 11), SecretArg("v2:上线:token", 0), SecretArg("", 3))
    job = make_job(secret_args=secrets)
    await store.create_job(job)

    assert (await store.get_job(job.job_id)).secret_args == secrets
    assert (await store.list_jobs())[0].secret_args == secrets


# -- what a run records about itself ------------------------------------------------------------------------


async def test_rolling_settings_secret_lengths_and_end_reasons_round_trip(store: Store) -> None:
    rolling = Rolling(parallelism=3, delay_s=1.5, failure_action=FailureAction.PAUSE, max_failure_ratio=0.25)
    job = make_job(rolling=rolling)
    await store.create_job(job)
    assert (await store.get_job(job.job_id)).rolling == rolling
    execution = dataclasses.replace(make_execution(job, "1.000001", 1.0), secret_lengths=(11, 0), rolling=rolling)
    results = results_of(execution)
    await store.create_execution(execution, results)
    assert await store.get_execution(job.job_id, "1.000001") == execution
    ended = results[1].replace(status=Status.RUNNING_FAILED, error="stopped", end_reason=EndReason.STOPPED)
    await store.save_result(ended)
    assert (await store.list_results(job.job_id, "1.000001"))[1] == ended


async def test_output_streams_are_kept_apart_and_older_chunks_count_as_stdout(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    await store.append_output(target, 0, b"old-out\n")  # written before streams were kept
    await store.append_output(target, 1, b"out\nerr\nout2\n", streams=[(STDOUT, 4), (STDERR, 4), (STDOUT, 5)])

    async def read(stream: int | None) -> bytes:
        chunks = store.iter_output(job.job_id, "1.000001", 0, stream=stream)
        return b"".join([c async for c in chunks])

    assert await read(None) == b"old-out\nout\nerr\nout2\n"
    assert await read(STDOUT) == b"old-out\nout\nout2\n"
    assert await read(STDERR) == b"err\n"


async def test_chunks_come_with_their_runs_from_any_seq_on(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    (target,) = await started(store, job, "1.000001", 1.0, targets=1)
    await store.append_output(target, 0, b"old-out\n")  # written before streams were kept: all stdout
    await store.append_output(target, 1, b"out\nerr\n", streams=[(STDOUT, 4), (STDERR, 4)])
    for seq in range(2, 40):  # more than one batch
        await store.append_output(target, seq, b"e", streams=[(STDERR, 1)])

    async def chunks(after_seq: int) -> list[tuple[int, bytes, tuple[tuple[int, int], ...]]]:
        return [c async for c in store.iter_chunks(job.job_id, "1.000001", 0, after_seq=after_seq)]

    every = await chunks(-1)
    assert every[:3] == [
        (0, b"old-out\n", ((STDOUT, 8),)),
        (1, b"out\nerr\n", ((STDOUT, 4), (STDERR, 4))),
        (2, b"e", ((STDERR, 1),)),
    ]
    assert [c[0] for c in every] == list(range(40))
    assert await chunks(38) == [(39, b"e", ((STDERR, 1),))]
    assert await chunks(39) == []
