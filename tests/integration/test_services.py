"""GET /api/services and the Warnings of a saved job, on the lab's real swarm."""

from __future__ import annotations

from typing import Any

from .lab import Lab


async def test_services_show_the_stack_app_replicas_and_image_of_the_real_swarm(client: Any, lab: Lab) -> None:
    lab.create_service("shop_api", 2, node=1, app="shop")
    try:
        response = await client.get("/api/services")
        assert response.status == 200, await response.text()
        services = {s["ServiceName"]: s for s in await response.json()}
        shop = services["shop_api"]
        assert shop["AppName"] == "shop"
        assert shop["Replicas"] == {"Running": 2, "Desired": 2}
        assert shop["Image"] == lab.image and "@" not in shop["Image"]
        assert len(shop["ServiceId"]) == 25

        # The same swarm answers the job form's check: a deployed service gives no warning, a missing one does.
        body = {"AppName": "shop", "ServiceName": "shop_api", "Name": "迁移", "Cmd": "true"}
        saved = await (await client.post("/api/jobs", json=body)).json()
        assert "Warnings" not in saved
        body = {**body, "ServiceName": "shop_later", "Name": "迁移2"}
        saved = await (await client.post("/api/jobs", json=body)).json()
        assert [w["id"] for w in saved["Warnings"]] == ["service_not_found"]
    finally:
        lab.remove_service("shop_api")
