"""Reaching the Dask cluster a sharded run uses, and checking it can run pfdiag.

In: ``--scheduler tcp://HOST:PORT`` (or ``tls://``), or ``--workers N`` for a local cluster of N
processes, and ``-T``. Out: a ``Cluster`` (a connected client and its worker threads), or a
``ClusterError`` before the run folder exists and before any host is contacted: nothing at the
address answers as a Dask scheduler within ``-T``, no workers, or workers without this pfdiag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

import dask
import distributed.comm
from distributed import Client, LocalCluster, Security

import diag
from diag.shared.errors import DiagError, UsageError


class ClusterError(DiagError):
    """The Dask cluster cannot be reached, has no workers, or its workers cannot run pfdiag."""


@dataclass(slots=True)
class Cluster:
    """A connected client, and the local cluster behind it when pfdiag started one (``--workers``)."""

    client: Client
    local: LocalCluster | None
    slots: int  # worker threads: how many shards run at once

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a lost scheduler cannot be closed politely
            self.client.close(timeout=5)
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close(timeout=10)


def _worker_version() -> str:
    """Runs on each worker: proves pfdiag imports there and says which version."""
    return diag.__version__


def _tls_security(scheduler: str) -> Security:
    """Dask's security settings (its config and DASK_* variables); a ``tls://`` scheduler needs a CA file
    and this client's certificate there, which pfdiag has no options of its own for."""
    security = Security()
    settings = (getattr(security, "tls_ca_file", None), getattr(security, "tls_client_cert", None))
    if scheduler.startswith("tls://") and not all(settings):
        raise UsageError(
            f"--scheduler {scheduler} needs Dask's TLS settings: the CA file and this client's "
            "certificate and key",
            hint="set DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and "
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY (or distributed.comm.tls.* in Dask's config)",
        )
    return security


async def _identity(address: str, timeout_s: float, security: Security) -> Any:
    """What the server at ``address`` says it is, through Dask's own handshake and ``identity`` call."""
    comm = await distributed.comm.connect(
        address, timeout=timeout_s, **security.get_connection_args("client")
    )
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def _check_scheduler(address: str, timeout_s: float, security: Security) -> None:
    """A Dask scheduler answers at ``address`` within ``timeout_s``, else ``ClusterError``.

    Dask's ``Client(timeout=)`` bounds the TCP connect only: its handshake then reads without a bound,
    so a listener that says nothing (or an HTTP server, waiting for a request line) held a run for
    386 s with ``-T 3``. This asks the same questions under one deadline first.
    """
    hint = "is it the address `dask scheduler` printed? start one there, or use --workers N"
    try:
        identity = asyncio.run(asyncio.wait_for(_identity(address, timeout_s, security), timeout_s))
    except TimeoutError:
        raise ClusterError(
            f"cannot reach the Dask scheduler: no Dask answer within {timeout_s:g} s (-T)",
            where=address,
            hint=hint,
        ) from None
    except OSError as exc:  # refused, reset, closed, TLS
        raise ClusterError(
            f"cannot reach the Dask scheduler: {_reason(exc)}", where=address, hint=hint
        ) from None
    except Exception:  # bytes that are not Dask's (an HTTP answer read as a frame count of 10^18)
        raise ClusterError(
            "cannot reach the Dask scheduler: the server there does not speak Dask's protocol",
            where=address,
            hint=hint,
        ) from None
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise ClusterError(
            f"cannot reach the Dask scheduler: the server there says it is {kind or identity!r}",
            where=address,
            hint=hint,
        )


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _quiet_loop(loop: Any) -> None:
    """Dask's unretrieved task errors on its event loop (after Ctrl-C: "Task exception was never
    retrieved" and a traceback) go to the ``distributed`` logger, which pfdiag keeps quiet."""

    def handler(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        logging.getLogger("distributed.pfdiag").debug("%s", context.get("message"))

    with contextlib.suppress(Exception):
        loop.asyncio_loop.set_exception_handler(handler)


def _local_cluster(workers: int) -> LocalCluster:
    # Dask's worker profiler samples every thread's stack every 10 ms; a shard has two threads
    # per host, so at 100 hosts a worker spent minutes of CPU on it (a 200-host run with
    # --workers 2: 395 s instead of ~10 s). The nannies pass this config to their workers.
    dask.config.set({"distributed.worker.profile.enabled": False})
    local = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,  # the engine has its own threads; one shard per process at a time
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
        preload=[__name__],  # dask_setup below, in each worker process
    )
    _quiet_loop(local.loop)  # the scheduler runs on this loop, in this process
    return local


def dask_setup(worker: object) -> None:
    """Dask's preload hook, run in each ``--workers`` process as it starts: Ctrl-C in a terminal reaches
    the whole process group, and a worker that took it died with a KeyboardInterrupt traceback of its
    own while this client was stopping the shards and closing the cluster in order."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def connect(scheduler: str | None, workers: int | None, *, timeout_s: float = 10.0) -> Cluster:
    """Connect to ``scheduler`` or start ``workers`` local processes; check the workers can run pfdiag.

    Raises ``ClusterError`` before any host is contacted: no scheduler at the address (nothing answers
    as one within ``timeout_s``), no workers, or a worker without pfdiag (or another version of it);
    ``UsageError`` for a ``tls://`` address without Dask's TLS settings.
    """
    # distributed logs its reconnect attempts with tracebacks; pfdiag says what failed in its own words
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name.split(".")[0] == "distributed":
            logging.getLogger(name).setLevel(logging.CRITICAL)
    local: LocalCluster | None = None
    try:
        if scheduler is not None:
            security = _tls_security(scheduler)
            _check_scheduler(scheduler, timeout_s, security)
            client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False, security=security)
        else:
            local = _local_cluster(workers or 1)
            client = Client(local, set_as_default=False)
        _quiet_loop(client.loop)
    except DiagError:
        raise
    except Exception as exc:  # OSError, TimeoutError, and whatever Dask raises for a peer gone odd
        if local is not None:
            with contextlib.suppress(Exception):
                local.close()
        where = scheduler or f"local cluster of {workers} workers"
        raise ClusterError(
            f"cannot reach the Dask scheduler: {_reason(exc)}",
            where=where,
            hint="start one with `dask scheduler` and `dask worker tcp://HOST:8786`, or use --workers N",
        ) from None
    except BaseException:  # Ctrl-C while the local cluster starts: do not leave its processes behind
        if local is not None:
            with contextlib.suppress(Exception):
                local.close()
        raise
    cluster = Cluster(client, local, 0)
    try:
        client.wait_for_workers(1, timeout=timeout_s)
        versions = client.run(_worker_version)
    except (OSError, TimeoutError) as exc:
        cluster.close()
        raise ClusterError(f"the Dask scheduler has no workers: {exc}", where=scheduler) from None
    except Exception as exc:  # the worker cannot unpickle a diag function: pfdiag is not installed there
        cluster.close()
        raise ClusterError(
            f"the Dask workers cannot run pfdiag: {type(exc).__name__}: {exc}",
            where=scheduler,
            hint="install the same pfdiag on every worker (pip install 'pfdiag[distributed]')",
        ) from None
    other = {worker: v for worker, v in versions.items() if v != diag.__version__}
    if other:
        cluster.close()
        raise ClusterError(
            f"workers run another pfdiag version than this client ({diag.__version__}): {other}",
            where=scheduler,
        )
    info = client.scheduler_info()
    cluster.slots = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()) or 1
    return cluster
