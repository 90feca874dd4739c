"""Joining Ray: a local one by default, a cluster when RAY_ADDRESS is set.

`ray` is imported inside the functions on purpose: a local Ray must be told to stay on loopback through
environment variables that Ray reads when it is first imported.
"""

from __future__ import annotations

import logging
import os

NAMESPACE = "avibot"
# A local demo needs little shared memory; Ray's default (30 % of RAM) would reserve gigabytes of /dev/shm.
LOCAL_OBJECT_STORE_BYTES = 512 * 1024 * 1024
# A local Ray's own settings (RayConfig; a cluster's are its own). Task events feed Ray's dashboard, which we do
# not run: each actor call (one or more per buyer message) would also be reported to the GCS. Prestarted and
# pooled idle workers are processes of ~50 MiB each that the live path never uses (its actors start once).
LOCAL_SYSTEM_CONFIG: dict[str, object] = {
    "task_events_report_interval_ms": 0,
    "enable_metrics_collection": False,
    "prestart_worker_first_driver": False,
    "num_workers_soft_limit": 0,
}


def _local_environment() -> None:
    # Without this a single-node Linux Ray binds its gRPC servers to the machine's outward address; with it,
    # to 127.0.0.1 (the variable's name is Ray's, from the macOS/Windows case it was made for).
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def start(address: str | None) -> str:
    """Connects (or starts a local Ray) once per process and returns the GCS address others can join."""
    if not address:
        _local_environment()
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, object] = {
            "namespace": NAMESPACE,
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        if address:
            kwargs["address"] = address
        else:
            kwargs["object_store_memory"] = LOCAL_OBJECT_STORE_BYTES
            kwargs["_system_config"] = LOCAL_SYSTEM_CONFIG
        try:
            ray.init(**kwargs)
        except Exception as exc:
            # Ray waits a fixed 30 s for its raylet; on a busy 2-core machine that is sometimes not enough. One
            # more try on a clean slate costs less than failing the start.
            if address or "timed out during startup" not in str(exc):
                raise
            ray.shutdown()
            ray.init(**kwargs)
    return ray.get_runtime_context().gcs_address


def session_dir() -> str | None:
    """This run's local Ray session directory, so a later run can reap what a crash of this one leaves."""
    import ray

    try:
        return ray._private.worker._global_node.get_session_dir_path()  # no public API for it
    except AttributeError:
        return None


def stop() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


def health() -> dict[str, object]:
    """Blocking (asks the GCS); call it from a thread."""
    import ray

    if not ray.is_initialized():
        return {"ok": False, "error": "Ray is not started in this process"}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"ok": bool(nodes), "nodes": len(nodes), "cpus": ray.cluster_resources().get("CPU", 0)}
