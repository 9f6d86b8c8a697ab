"""Day-to-day operations on the real engine: parameters, automatic retries, status hooks (issue 15)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.client import create_job, start, until, wait_final
from tests.hook_receiver import Receiver, verified

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


HOOKS = {
    "DCE_JOBS_HOOK_SECRET": "it-secret",
    "DCE_JOBS_HOOK_BACKOFF_S": "0.2",
    "DCE_JOBS_HOOK_TIMEOUT_S": "0.5",
    "DCE_JOBS_FOLLOW_UP_POLL_S": "0.2",
}
#: fails (exit 3) the first time it runs in a container, succeeds afterwards: the marker is a file of the run
ONCE = 'sh -c \'test -e "$1" || { touch "$1"; exit 3; }\' once ${MARKER}'


async def test_a_failing_target_is_retried_automatically(make_client: Any, lab: Lab, local_service: str) -> None:
    client = await make_client(HOOKS)
    job = await create_job(client, local_service, ONCE, Params=[{"Name": "MARKER"}], Retries=2, RetryDelay=0.3)
    marker = f"/tmp/dce-jobs-retry-{uuid.uuid4().hex}"
    first = await start(client, job, targets_of(lab, local_service, 1), Params={"MARKER": marker})
    failed = await wait_final(client, job, first, timeout_s=30)
    assert (failed["State"], failed["Result"][0]["ExitCode"]) == ("failed", 3)
    retried_by = (await until(client, job, first, lambda b: b["RetriedBy"] is not None))["RetriedBy"]
    retry = await wait_final(client, job, retried_by, timeout_s=30)
    assert (retry["State"], retry["RetryOf"], retry["RetryAttempt"], retry["Params"]) == (
        "succeeded",
        first,
        1,
        {"MARKER": marker},
    )
    assert retry["Result"][0]["ContainerId"] == failed["Result"][0]["ContainerId"]


async def test_hooks_to_real_receivers_retry_and_never_hold_the_execution(
    make_client: Any, lab: Lab, local_service: str
) -> None:
    client = await make_client({**HOOKS, "DCE_JOBS_HOOK_RETRY_WINDOW_S": "3"})
    flaky, silent = Receiver(502, 200), Receiver(None)
    target = targets_of(lab, local_service, 1)
    async with flaky as flaky_url, silent as silent_url:
        job = await create_job(client, local_service, "sh -c 'sleep 1'", StatusHook=flaky_url, SecretArgs=["s3cr3t"])
        hung = await create_job(client, local_service, "sh -c 'sleep 1'", StatusHook=silent_url, Timeout=5)
        first, second = await start(client, job, target), await start(client, hung, target)
        ended = await wait_final(client, hung, second, timeout_s=30)
        assert ended["State"] == "succeeded" and ended["EndTime"] - ended["CreateTime"] < 5
        delivered = await until(client, job, first, lambda b: _last_state(b) == "done", timeout_s=30)
        given_up = await until(client, hung, second, lambda b: _last_state(b) == "failed", timeout_s=30)
    (delivery,) = delivered["HookDeliveries"]
    assert [a["Status"] for a in delivery["Attempts"]] == [502, 200]
    assert len(flaky.requests) == 2
    for headers, raw in flaky.requests:
        assert verified("it-secret", raw, headers["X-DCE-Jobs-Signature"]) and b"s3cr3t" not in raw
        assert headers["X-DCE-Jobs-Delivery"] == delivery["DeliveryId"]
    sent = json.loads(flaky.requests[-1][1])
    assert (sent["State"], sent["Result"][0]["ExitCode"], sent["Result"][0]["EndReason"]) == ("succeeded", 0, "exited")
    (silent_delivery,) = given_up["HookDeliveries"]
    assert len(silent_delivery["Attempts"]) >= 2
    assert {a["Error"] for a in silent_delivery["Attempts"]} == {"no answer within 0.5 s"}


def _last_state(body: dict[str, Any]) -> str:
    return body["HookDeliveries"][-1]["State"] if body["HookDeliveries"] else ""
