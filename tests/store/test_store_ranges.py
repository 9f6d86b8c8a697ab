"""Byte ranges of a target's output read from the chunks they span, on every backend."""

from __future__ import annotations

import pytest

from dce_jobs.errors import RangeNotSatisfiable
from dce_jobs.models import STDERR, STDOUT
from dce_jobs.store.base import Store
from dce_jobs.store.ranges import MAX_RANGE_BYTES, ByteRange
from tests.store.records import make_job, started

# three chunks: "out0\n" + "ERR0\n", "out1\n", "ERR1\n" + "out2\n"
CHUNKS = [
    (b"out0\nERR0\n", [(STDOUT, 5), (STDERR, 5)]),
    (b"out1\n", []),
    (b"ERR1\nout2\n", [(STDERR, 5), (STDOUT, 5)]),
]
ALL = b"".join(c for c, _ in CHUNKS)
STDOUT_ONLY = b"out0\nout1\nout2\n"


async def _stored(store: Store) -> tuple[str, str]:
    job = make_job()
    await store.create_job(job)
    results = await started(store, job, "1.000000", 1.0, targets=1)
    for seq, (data, runs) in enumerate(CHUNKS):
        await store.append_output(results[0], seq, data, streams=runs)
    return job.job_id, "1.000000"


@pytest.mark.parametrize(
    ("wanted", "stream", "data", "start"),
    [
        (ByteRange(first=0, last=4), None, ALL[:5], 0),
        (ByteRange(first=7, last=16), None, ALL[7:17], 7),
        (ByteRange(first=12), None, ALL[12:], 12),
        (ByteRange(suffix=7), None, ALL[-7:], len(ALL) - 7),
        (ByteRange(suffix=10_000), None, ALL, 0),
        (ByteRange(first=3, last=10_000), None, ALL[3:], 3),
        (ByteRange(first=4, last=11), STDOUT, STDOUT_ONLY[4:12], 4),
        (ByteRange(suffix=5), STDERR, b"ERR1\n", 5),
    ],
)
async def test_read_output_range(store: Store, wanted: ByteRange, stream: int | None, data: bytes, start: int) -> None:
    job_id, executor_id = await _stored(store)

    part = await store.read_output_range(job_id, executor_id, 0, wanted=wanted, stream=stream)

    assert (part.data, part.start) == (data, start)
    assert part.total == {None: len(ALL), STDOUT: len(STDOUT_ONLY), STDERR: 10}[stream]


@pytest.mark.parametrize("wanted", [ByteRange(first=len(ALL)), ByteRange(suffix=0)])
async def test_a_range_past_the_end_is_not_satisfiable(store: Store, wanted: ByteRange) -> None:
    job_id, executor_id = await _stored(store)

    with pytest.raises(RangeNotSatisfiable) as caught:
        await store.read_output_range(job_id, executor_id, 0, wanted=wanted)

    assert caught.value.total == len(ALL)


async def test_no_output_is_not_satisfiable(store: Store) -> None:
    job = make_job()
    await store.create_job(job)
    await started(store, job, "1.000000", 1.0, targets=1)

    with pytest.raises(RangeNotSatisfiable):
        await store.read_output_range(job.job_id, "1.000000", 0, wanted=ByteRange(first=0))


def test_a_long_range_is_cut_at_the_cap() -> None:
    assert ByteRange(first=10).resolve(10 * MAX_RANGE_BYTES) == (10, 10 + MAX_RANGE_BYTES)


@pytest.mark.parametrize("max_bytes", [0, 4, 5, 12, 15, 1000])
async def test_tail_outputs_of_several_targets_match_tail_output(store: Store, max_bytes: int) -> None:
    job = make_job()
    await store.create_job(job)
    results = await started(store, job, "1.000000", 1.0, targets=3)
    for seq, (data, runs) in enumerate(CHUNKS):
        await store.append_output(results[0], seq, data, streams=runs)
    await store.append_output(results[1], 0, b"only\n")

    tails = await store.tail_outputs(job.job_id, "1.000000", [0, 1, 2], max_bytes=max_bytes)

    assert tails == {i: await store.tail_output(job.job_id, "1.000000", i, max_bytes=max_bytes) for i in (0, 1, 2)}
    assert tails[2] == (b"", False)


async def test_tail_outputs_of_more_targets_than_one_query_reads(store: Store) -> None:
    """The tails of a wide execution are read in bounded batches of targets, each tail as tail_output gives it."""
    job = make_job()
    await store.create_job(job)
    results = await started(store, job, "1.000000", 1.0, targets=120)
    for result in results:
        await store.append_output(result, 0, f"first of {result.index}\n".encode())
        await store.append_output(result, 1, f"last of {result.index}\n".encode())
    indexes = list(range(0, 120, 2)) + [1]

    tails = await store.tail_outputs(job.job_id, "1.000000", indexes, max_bytes=9)

    assert tails == {i: await store.tail_output(job.job_id, "1.000000", i, max_bytes=9) for i in indexes}
    assert tails[4] == (b"ast of 4\n", True)
