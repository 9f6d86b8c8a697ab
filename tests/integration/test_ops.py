"""Day-to-day operations on the real engine: parameters, automatic retries, status hooks (issue 15)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.client import create_job, start, wait_final

from .conftest import targets_of
from .lab import Lab

pytestmark = pytest.mark.engine


async def test_a_param_value_arrives_as_one_literal_argv_word(client: Any, lab: Lab, local_service: str) -> None:
    params = [{"Name": "A"}, {"Name": "B"}]
    job = await create_job(client, local_service, r"printf '<%s>\n' ${A} pre${B}post", Params=params)
    values = {"A": "x; rm -rf / && touch /tmp/pwned", "B": " $(id) `id` a  b | cat "}
    executor_id = await start(client, job, targets_of(lab, local_service, 1), Params=values)
    body = await wait_final(client, job, executor_id, timeout_s=30)
    (result,) = body["Result"]
    assert (result["Status"], result["ExitCode"]) == ("FINISHED", 0), result
    assert result["Output"] == "<x; rm -rf / && touch /tmp/pwned>\n<pre $(id) `id` a  b | cat post>\n"
    assert result["ProcessConfig"]["arguments"] == ["<%s>\\n", values["A"], f"pre{values['B']}post"]
    assert body["Params"] == values
