"""Connections to the execution engines the Ibis code runs on.

DuckDB (in-process, the default) and PySpark (clusters). Both run in UTC so
naive timestamps mean UTC everywhere, as the contract says.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
from typing import Any, Literal

import ibis
from ibis.backends import BaseBackend

Engine = Literal["duckdb", "pyspark"]


WORK_PREFIX = "reviewguard-duckdb-"


MEMORY_LIMIT = re.compile(r"^\s*(\d+(\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def check_memory_limit(memory_limit: str) -> str:
    """``memory_limit`` as DuckDB takes it ("2GB", "512MiB"), or ValueError: a positive number and a
    unit. The value goes into a SET statement, so nothing else may pass."""
    m = MEMORY_LIMIT.match(memory_limit)
    if m is None or float(m.group(1)) <= 0:
        raise ValueError(
            f"memory limit {memory_limit!r} is not a positive amount with a unit (B, KB, MB, GB, TB or KiB ... TiB), "
            "e.g. 2GB"
        )
    return memory_limit.strip()


def out_of_memory(exc: BaseException) -> bool:
    """DuckDB ran out of memory within its limit: a step that could not spill to disk, not bad data
    and not a bug (the way out is a higher ``memory_limit``)."""
    import duckdb

    return isinstance(exc, duckdb.OutOfMemoryException)


def remove_orphaned_work_folders(parent: str) -> list[str]:
    """Delete DuckDB work folders whose owning process no longer runs; returns them."""
    removed = []
    for name in os.listdir(parent):
        if not name.startswith(WORK_PREFIX):
            continue
        folder = os.path.join(parent, name)
        try:
            with open(os.path.join(folder, "owner.pid")) as fh:
                pid = int(fh.read().strip())
        except (OSError, ValueError):
            continue  # not ours to judge (no owner recorded, or being created)
        if _process_alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def connect(
    engine: Engine = "duckdb",
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    spark_session: Any | None = None,
) -> BaseBackend:
    """Open an Ibis backend configured for reviewguard.

    ``memory_limit`` (DuckDB only, e.g. "2GB") bounds memory; DuckDB spills to
    a temporary folder beyond it. For Spark, pass your own ``spark_session``
    (any cluster) or get a local one.
    """
    if engine == "duckdb":
        # A working folder of its own, removed at exit, so crashed runs cannot pile up files.
        # Materialised tables live in a database file there: DuckDB compresses stored
        # tables (not in-memory ones), which keeps a 176M-row likes table to a few GB.
        work = tempfile.mkdtemp(prefix=WORK_PREFIX)
        with open(os.path.join(work, "owner.pid"), "w") as fh:
            fh.write(str(os.getpid()))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        # atexit does not run for killed processes or multiprocessing children
        # (os._exit); their folders, gigabytes at scale, go on the next start.
        remove_orphaned_work_folders(os.path.dirname(work))
        con = ibis.duckdb.connect(database=os.path.join(work, "work.duckdb"))
        con.raw_sql("SET TimeZone='UTC'")
        con.raw_sql(f"SET temp_directory='{work}'")
        # Outputs that need an order sort explicitly; this lets DuckDB stream more and hold less.
        con.raw_sql("SET preserve_insertion_order=false")
        if memory_limit is not None:
            con.raw_sql(f"SET memory_limit='{check_memory_limit(memory_limit)}'")
        if threads:
            con.raw_sql(f"SET threads={int(threads)}")
        return con
    if engine == "pyspark":
        session = spark_session or spark_session_for_run()
        session.conf.set("spark.sql.session.timeZone", "UTC")
        return ibis.pyspark.connect(session)
    raise ValueError(f"unknown engine {engine!r}; use 'duckdb' or 'pyspark'")


SPARK_MASTER_ENV = "REVIEWGUARD_SPARK_MASTER"


def spark_session_for_run() -> Any:
    """The Spark session a command runs on, in this order of preference.

    1. A session already active in this process (``spark-submit``, a notebook
       on a cluster, Databricks): used as it is, its master untouched.
    2. ``REVIEWGUARD_SPARK_MASTER`` (``spark://host:7077``, ``yarn``,
       ``k8s://...``): a new session on that cluster.
    3. Otherwise a local session, ``local[2]``.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    return local_spark_session(os.environ.get(SPARK_MASTER_ENV) or "local[2]")


def local_spark_session(master: str = "local[2]") -> Any:
    """A Spark session on ``master`` (default ``local[2]``: development and tests; needs Java 17)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers must run this interpreter (with reviewguard installed), not the system one.
    # On a cluster the executors need reviewguard too (see docs/scaling.md).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("reviewguard").config("spark.sql.session.timeZone", "UTC")
    if master.startswith("local"):
        # Sized for one small machine; a cluster keeps its own settings (and its UI).
        builder = (
            builder.config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "4g")
            .config("spark.ui.enabled", "false")
        )
    return builder.getOrCreate()


def engine_name(con: BaseBackend) -> str:
    return str(con.name)


def materialize(con: BaseBackend, name: str, expr: ibis.Table) -> ibis.Table:
    """Compute ``expr`` once and keep it as a named table for later queries."""
    if engine_name(con) == "pyspark":
        return _materialize_spark(con, name, expr)
    # create_table registers in-memory tables (memtables) and, without overwrite,
    # inserts once (Ibis 12's overwrite path emits a DROP DuckDB 2 rejects); the
    # table is stored, compressed, in the connection's private database file.
    con.raw_sql(f'DROP VIEW IF EXISTS temp.main."{name}"')
    con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
    con.create_table(name, expr)
    return con.table(name)


def keep_as_view(con: BaseBackend, name: str, expr: ibis.Table) -> ibis.Table:
    """Name ``expr`` without computing it (DuckDB): a temporary view, read again by every query.

    For a clean table read straight from Parquet: a stored copy would cost one more scan of the
    source and its size again in the work folder, and DuckDB reads Parquet about as fast as its
    own tables (docs/benchmarks.md, "Reader"), except a string column whose dictionary overflowed
    into plain pages, read about 7x slower (docs/data-contract.md, writing Parquet for speed).
    """
    if engine_name(con) == "pyspark":
        raise ValueError("keep_as_view is for DuckDB; Spark keeps its clean tables with materialize")
    con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
    con.raw_sql(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {con.compile(expr)}')
    return con.table(name)


def _materialize_spark(con: Any, name: str, expr: ibis.Table) -> ibis.Table:
    # CACHE TABLE on a view is only found again when Spark matches the view's
    # plan to the cached one, and plans holding non-deterministic parts never
    # match: every later query then re-read and re-validated the raw files
    # (40 s per count on 264k likes). A checkpoint replaces the plan by its
    # computed rows, so later queries start from them whatever the plan held.
    con._register_in_memory_tables(expr)
    frame = con._session.sql(con.compile(expr))
    if con._session.sparkContext.getCheckpointDir():
        # A cluster with a checkpoint folder: rows survive the loss of an executor.
        frame = frame.checkpoint(eager=True)
    else:
        frame = frame.localCheckpoint(eager=True)
    frame.createOrReplaceTempView(name)
    return con.table(name)
