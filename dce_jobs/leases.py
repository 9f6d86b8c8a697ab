"""This process as the owner of its executions: its id, its lease in the store, and which owners are alive."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

from .models import Lease
from .store import Store

log = logging.getLogger("dce_jobs.leases")


class Owner:
    """One service process among the replicas sharing a store; it runs the executions it owns."""

    def __init__(
        self,
        *,
        store: Store,
        renew_s: float,
        expiry_s: float,
        clock: Callable[[], float] = time.time,
        owner_id: str | None = None,
        host: str | None = None,
        pid: int | None = None,
    ) -> None:
        self.owner_id = owner_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.renew_s = renew_s
        self.expiry_s = expiry_s
        self._store = store
        self._clock = clock
        self._host = socket.gethostname() if host is None else host
        self._pid = os.getpid() if pid is None else pid

    def __repr__(self) -> str:
        return f"Owner({self.owner_id!r})"

    async def renew(self) -> None:
        """Extend this process's lease by expiry_s from now."""
        lease = Lease(self.owner_id, self._clock() + self.expiry_s, host=self._host, pid=self._pid)
        await self._store.renew_lease(lease)

    async def release(self) -> None:
        """Drop the lease (a clean shutdown: nothing of this process is left running)."""
        await self._store.drop_lease(self.owner_id)

    async def alive(self) -> set[str]:
        """The owners whose lease holds: renewed in time, and not a process of this host known to be gone."""
        now = self._clock()
        return {
            lease.owner_id
            for lease in await self._store.list_leases()
            if lease.owner_id == self.owner_id or (lease.expires_at >= now and not self._gone(lease))
        }

    def _gone(self, lease: Lease) -> bool:
        """True for a lease of this very host whose process no longer runs (a restart need not wait it out)."""
        if lease.host != self._host or lease.pid <= 0:
            return False
        if lease.pid == self._pid:
            return True  # this process took the pid of the one that held it (pid 1 of a restarted container)
        try:
            os.kill(lease.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
