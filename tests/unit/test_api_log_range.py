"""The log route's byte ranges (Range header, Offset/Length, with Stream) and inspect's tail at a line start."""

from __future__ import annotations

from typing import Any

import pytest

from dce_jobs import keys
from dce_jobs.api.executions import INSPECT_TAIL_BYTES
from dce_jobs.models import STDERR, STDOUT, ContainerResult, Execution, Status, Target

from .conftest import job_body

EXECUTOR = "1700000000.100000"
CONTAINER = "a" * 64
CHUNKS = [(b"out0\nERR0\n", [(STDOUT, 5), (STDERR, 5)]), (b"out1\n", []), (b"ERR1\nout2\n", [(STDERR, 5), (STDOUT, 5)])]
ALL = b"".join(c for c, _ in CHUNKS)


async def _seeded(client: Any, chunks: list[tuple[bytes, list[tuple[int, int]]]] = CHUNKS) -> str:
    job = await (await client.post("/api/jobs", json=job_body())).json()
    store = client.app[keys.STORE]
    target = Target(container_id=CONTAINER, node_id="node1")
    result = ContainerResult(
        job_id=job["JobId"],
        executor_id=EXECUTOR,
        index=0,
        container_id=CONTAINER,
        node_id="node1",
        status=Status.FINISHED,
        exit_code=0,
    )
    await store.create_execution(Execution(job["JobId"], EXECUTOR, 1.0, (target,)), [result])
    for seq, (data, runs) in enumerate(chunks):
        await store.append_output(result, seq, data, streams=runs)
    return f"/api/jobs/{job['JobId']}/log/{EXECUTOR}"


@pytest.mark.parametrize(
    ("headers", "params", "body", "content_range"),
    [
        ({"Range": "bytes=0-4"}, {}, ALL[:5], f"bytes 0-4/{len(ALL)}"),
        ({"Range": "bytes=-6"}, {}, ALL[-6:], f"bytes {len(ALL) - 6}-{len(ALL) - 1}/{len(ALL)}"),
        ({"Range": "bytes=12-"}, {}, ALL[12:], f"bytes 12-{len(ALL) - 1}/{len(ALL)}"),
        ({"Range": "bytes=20-999"}, {}, ALL[20:], f"bytes 20-{len(ALL) - 1}/{len(ALL)}"),
        ({}, {"Offset": "5", "Length": "10"}, ALL[5:15], f"bytes 5-14/{len(ALL)}"),
        ({}, {"Offset": "15"}, ALL[15:], f"bytes 15-{len(ALL) - 1}/{len(ALL)}"),
        ({"Range": "bytes=-5"}, {"Stream": "stdout"}, b"out2\n", "bytes 10-14/15"),
        ({}, {"Stream": "stderr", "Offset": "0", "Length": "5"}, b"ERR0\n", "bytes 0-4/10"),
    ],
)
async def test_ranges_answer_206_with_content_range(
    client: Any, headers: dict[str, str], params: dict[str, str], body: bytes, content_range: str
) -> None:
    url = await _seeded(client)

    response = await client.get(url, headers=headers, params={"ContainerId": CONTAINER, **params})

    assert response.status == 206
    assert response.headers["Content-Range"] == content_range
    assert await response.read() == body


@pytest.mark.parametrize(
    ("headers", "params"),
    [({"Range": f"bytes={len(ALL)}-"}, {}), ({}, {"Offset": str(len(ALL) + 5)}), ({"Range": "bytes=-0"}, {})],
)
async def test_a_range_past_the_end_is_416(client: Any, headers: dict[str, str], params: dict[str, str]) -> None:
    url = await _seeded(client)

    response = await client.get(url, headers=headers, params={"ContainerId": CONTAINER, **params})

    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(ALL)}"
    assert (await response.json())["id"] == "range_not_satisfiable"


@pytest.mark.parametrize(
    ("headers", "params", "error_id"),
    [
        ({"Range": "bytes=0-1,4-5"}, {"ContainerId": CONTAINER}, "invalid_range"),
        ({"Range": "bytes=5-2"}, {"ContainerId": CONTAINER}, "invalid_range"),
        ({"Range": "lines=1-2"}, {"ContainerId": CONTAINER}, "invalid_range"),
        ({"Range": "bytes=0-4"}, {"ContainerId": CONTAINER, "Offset": "0"}, "invalid_range"),
        ({}, {"ContainerId": CONTAINER, "Offset": "-1"}, "invalid_range"),
        ({}, {"ContainerId": CONTAINER, "Length": "0"}, "invalid_range"),
        ({"Range": "bytes=0-4"}, {"ContainerId": CONTAINER, "Follow": "1"}, "invalid_range"),
        ({"Range": "bytes=0-4"}, {}, "range_needs_container"),
        ({"Range": "bytes=0-4"}, {"ContainerId": CONTAINER, "Stream": "both"}, "invalid_request"),
    ],
)
async def test_bad_ranges_are_400(client: Any, headers: dict[str, str], params: dict[str, str], error_id: str) -> None:
    url = await _seeded(client)

    response = await client.get(url, headers=headers, params=params)

    assert response.status == 400
    body = await response.json()
    assert set(body) == {"message", "id"} and body["id"] == error_id


async def test_without_a_range_the_whole_log_is_200(client: Any) -> None:
    url = await _seeded(client)

    response = await client.get(url, params={"ContainerId": CONTAINER})

    assert response.status == 200 and "Content-Range" not in response.headers
    assert await response.read() == ALL


async def test_inspect_tail_starts_at_a_line_boundary(client: Any) -> None:
    line = b"0123456789abcdefghijklmnopqrstuvwxyz-%06d\n"
    lines = b"".join(line % n for n in range(3 * INSPECT_TAIL_BYTES // len(line % 0)))
    url = await _seeded(client, [(lines[i : i + 65536], []) for i in range(0, len(lines), 65536)])
    job_id = url.split("/")[3]

    body = await (await client.get(f"/api/jobs/{job_id}/inspect/{EXECUTOR}")).json()

    output = body["Result"][0]["Output"]
    assert output.startswith("0123456789abcdefghijklmnopqrstuvwxyz-") and output.endswith("\n")
    assert len(output) <= INSPECT_TAIL_BYTES and lines.decode().endswith(output)
