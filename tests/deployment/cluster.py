"""A real CeleryExecutor deployment of Airflow 3.3 on this machine, as separate processes.

:class:`Cluster` starts ``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer``
and two ``airflow celery worker`` processes (``--concurrency 2``), every one in its own process
group, over a private PostgreSQL metadata database (also the Celery result backend) and Redis
as the broker (a db number and a queue of the session's own). Every component shares one folder
(absolute paths: the store, the buckets, the configuration), the project's ``dags/`` and the
api-server's execution API.

:class:`OcrServer` is the project's local CLOVA server (``clova-etl serve``, synthetic engine)
in a process of its own, one per scenario, with that scenario's faults.

Everything is read back from the real components: run and task states through the REST API,
the server's bill from ``GET /_stats``, the ledger's from ``clova-etl billing --json``, the
warehouse with psycopg.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.fixtures.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO_ROOT / "dags"
POSTGRES_ADMIN_URI = os.environ.get(
    "CLOVA_ETL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("CLOVA_ETL_TEST_REDIS", "redis://127.0.0.1:6379/7")
# Seconds without a heartbeat after which the scheduler fails a task (default 300).
TASK_HEARTBEAT_TIMEOUT = 30
WORKER_NAMES = ("deploy-w1", "deploy-w2")
TERMINAL_RUN_STATES = {"success", "failed"}

T = TypeVar("T")


class DeploymentError(AssertionError):
    """The deployment did not reach a state in time; the message carries the components' logs."""


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 1.0,
    diagnostics: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``probe`` until it returns a truthy value; raise with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            value = probe()
        except (httpx.HTTPError, OSError, ValueError) as exc:
            value, last_error = None, f"{type(exc).__name__}: {exc}"
        if value:
            return value
        if time.monotonic() > deadline:
            raise DeploymentError(
                f"timed out after {timeout:.0f} s waiting for {what}"
                + (f" (last error: {last_error})" if last_error else "")
                + diagnostics()
            )
        time.sleep(interval)


def _postgres_uri(database: str, *, driver: str = "postgresql") -> str:
    base, _, _ = POSTGRES_ADMIN_URI.rpartition("/")
    return f"{base.replace('postgresql://', f'{driver}://', 1)}/{database}"


def create_database(name: str) -> str:
    """Create the PostgreSQL database ``name``; return its ``postgresql://`` URI."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return _postgres_uri(name)


def drop_database(name: str) -> None:
    """Drop ``name`` (closing its sessions)."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive (task processes have their own groups)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pids: list[int], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to every pid and to its process group."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def alive(pids: list[int]) -> list[int]:
    """The pids of ``pids`` still running (zombies count as gone)."""
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


@dataclass
class Component:
    """One started process: its command, log file and ``Popen``."""

    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes]
    log_offset: int = 0
    """Size of the log file when this process started (a restart appends to it)."""
    seen: set[int] = field(default_factory=set)

    def tree(self) -> list[int]:
        """Its live process tree (remembered, so that teardown also finds orphans)."""
        pids = process_tree(self.proc.pid)
        self.seen.update(pids)
        return pids


def start_process(
    name: str, argv: list[str], env: Mapping[str, str], logs: Path, cwd: Path
) -> Component:
    """Start ``argv`` in a new session (its own process group), output to ``logs/name.log``."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Component(name, argv, log, proc, offset)


def stop_component(component: Component, timeout: float = 20.0) -> list[int]:
    """SIGTERM its group, wait, then SIGKILL whatever of its tree is left; return survivors."""
    pids = component.tree()
    if component.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(component.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            component.proc.wait(timeout)
    pids = sorted(set(pids) | component.seen | set(component.tree()))
    kill_tree(alive(pids))
    with contextlib.suppress(subprocess.TimeoutExpired):
        component.proc.wait(10)
    deadline = time.monotonic() + 10
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


@dataclass
class OcrServer:
    """``clova-etl serve`` (synthetic engine) in its own process, with a scenario's options."""

    component: Component
    base_url: str
    secret: str

    @property
    def invoke_url(self) -> str:
        """The General OCR invoke URL of the fake domain."""
        return f"{self.base_url}/custom/v1/1234/deploy/general"

    def stats(self) -> dict[str, Any]:
        """``GET /_stats``: calls, billable calls and pages, answers by code."""
        response = httpx.get(f"{self.base_url}/_stats", timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body


def start_ocr_server(
    env: Mapping[str, str], logs: Path, name: str, secret: str, *options: str
) -> OcrServer:
    """Start ``clova-etl serve`` on a free loopback port with ``options``; wait until healthy."""
    port = free_port()
    argv = [sys.executable, "-m", "clova_etl.cli", "serve", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--engine", "synthetic", "--log-level", "warning", *options]
    # The secret reaches the server through its environment, never its command line (ps).
    component = start_process(name, argv, {**env, "CLOVA_OCR_SECRET": secret}, logs, REPO_ROOT)
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if component.proc.poll() is not None:
            raise DeploymentError(f"{name} exited:\n{_tail(component.log)}")
        return httpx.get(f"{base}/_health", timeout=2).status_code == 200

    wait_for(f"{name} on {base}", healthy, 60, interval=0.3)
    return OcrServer(component, base, secret)


class Cluster:
    """The running deployment; see the module docstring."""

    def __init__(self, root: Path) -> None:
        self.token = secrets.token_hex(4)
        self.root = root
        self.home = root / "airflow"
        self.shared = root / "shared"
        self.logs = root / "logs"
        self.metadata_db = f"clova_deploy_{self.token}"
        self.databases: list[str] = []
        self.components: dict[str, Component] = {}
        self.servers: list[OcrServer] = []
        self.api_port = free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.queue = f"clova-deploy-{self.token}"
        self._token: str | None = None
        self.env = self._environment()

    # -- set-up ---------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "CLOVA_", "PYTEST", "CELERY"))
        }
        meta = _postgres_uri(self.metadata_db, driver="postgresql+psycopg")
        pythonpath = os.pathsep.join(
            p for p in [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")] if p
        )
        default_source = self.shared / "bucket-default"
        (default_source / "inbox").mkdir(parents=True, exist_ok=True)
        config = self.shared / "clova-etl.toml"
        config.write_text(
            "# Shared by every component; scenarios override source/store/warehouse per run.\n"
            f'[source]\nuri = "{default_source}"\n'
            f'[store]\nuri = "{self.shared / "store-default"}"\n'
            f'[warehouse]\nuri = "duckdb:///{self.shared / "default.duckdb"}"\n',
            encoding="utf-8",
        )
        return {
            **base,
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.deployment.hostname.worker_hostname",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": meta,
            "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            # The execution API's default 5 s timeout fails tasks when the machine is busy.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "CLOVA_ETL_CONFIG": str(config),
        }

    def airflow(self, *args: str, timeout: float = 300) -> str:
        """Run an ``airflow`` CLI command against the deployment; return its output."""
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise DeploymentError(
                f"airflow {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}"
                f"\n{done.stderr[-3000:]}"
            )
        return done.stdout

    def start(self) -> None:
        """Create the metadata DB, start every component and wait until all are ready."""
        self.home.mkdir(parents=True, exist_ok=True)
        create_database(self.metadata_db)
        self.databases.append(self.metadata_db)
        self.airflow("db", "migrate")
        self.airflow("pools", "set", "clova_ocr", "4", "CLOVA OCR calls")
        api = ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)]
        self._start("api-server", api)
        self._start("scheduler", ["scheduler"])
        self._start("dag-processor", ["dag-processor"])
        self._start("triggerer", ["triggerer"])
        for name in WORKER_NAMES:
            self.start_worker(name)
        wait_for("the api-server", self._api_up, 180, interval=1, diagnostics=self.diagnostics)
        wait_for(
            "scheduler, dag-processor and triggerer heartbeats",
            self._components_healthy,
            180,
            interval=2,
            diagnostics=self.diagnostics,
        )
        for name in WORKER_NAMES:
            self.wait_worker_ready(name)
        wait_for(
            "the DAG clova_ocr_ingest to be parsed",
            lambda: self.get("/api/v2/dags/clova_ocr_ingest", ok404=True),
            180,
            interval=2,
            diagnostics=self.diagnostics,
        )
        # Unpausing creates the latest interval's run at once (catchup=False): on the default,
        # empty bucket. It runs first (one active run): let it end before the scenarios start.
        self.request("PATCH", "/api/v2/dags/clova_ocr_ingest", json={"is_paused": False})
        wait_for(
            "the first scheduled run to end",
            self._no_active_runs,
            600,
            interval=3,
            diagnostics=self.diagnostics,
        )

    def _start(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "airflow", *args]
        self.components[name] = start_process(name, argv, env or self.env, self.logs, self.root)

    def start_worker(self, name: str) -> None:
        """Start (or restart) the Celery worker ``name`` (2 slots) on the session's queue."""
        args = ["celery", "worker", "--concurrency", "2", "--celery-hostname", f"{name}@%h"]
        args += ["--queues", self.queue, "--skip-serve-logs"]
        env = {**self.env, "CLOVA_DEPLOY_HOSTNAME": name}
        self._start(name, args, env)

    def wait_worker_ready(self, name: str) -> None:
        """Until the worker's log says ``ready.`` (Celery connected to the broker)."""
        component = self.components[name]

        def ready() -> bool:
            if component.proc.poll() is not None:
                raise DeploymentError(f"worker {name} exited:\n{_tail(component.log)}")
            with component.log.open("rb") as log:
                log.seek(component.log_offset)
                return b" ready." in log.read()

        wait_for(f"worker {name}", ready, 180, interval=1, diagnostics=self.diagnostics)

    def ensure_workers(self) -> None:
        """Restart any worker that is not running (a scenario killed it)."""
        for name in WORKER_NAMES:
            if self.components[name].proc.poll() is not None:
                self.start_worker(name)
                self.wait_worker_ready(name)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL the worker ``name`` and every task process under it; return their pids."""
        component = self.components[name]
        pids = component.tree()
        kill_tree(pids)
        component.proc.wait(30)
        deadline = time.monotonic() + 30
        while alive(pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = alive(pids)
        assert not left, f"processes of {name} survived SIGKILL: {left}"
        return pids

    # -- REST API -------------------------------------------------------------------------------

    def _api_up(self) -> bool:
        return httpx.get(f"{self.api}/api/v2/monitor/health", timeout=5).status_code == 200

    def _components_healthy(self) -> bool:
        health = httpx.get(f"{self.api}/api/v2/monitor/health", timeout=5).json()
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

    def _bearer(self) -> str:
        if self._token is None:
            response = httpx.get(f"{self.api}/auth/token", timeout=30)
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An authenticated REST call; raises on an error status."""
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        response = httpx.request(method, f"{self.api}{path}", headers=headers, timeout=60, **kwargs)
        if response.status_code >= 400:
            raise DeploymentError(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def get(self, path: str, *, ok404: bool = False, **params: Any) -> Any:
        """GET ``path`` as JSON (``None`` on 404 when ``ok404``)."""
        headers = {"Authorization": f"Bearer {self._bearer()}"}
        response = httpx.get(f"{self.api}{path}", headers=headers, params=params, timeout=60)
        if ok404 and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise DeploymentError(f"GET {path}: {response.status_code} {response.text}")
        return response.json()

    def _no_active_runs(self) -> bool:
        runs = self.get("/api/v2/dags/clova_ocr_ingest/dagRuns", limit=100)["dag_runs"]
        return all(r["state"] in TERMINAL_RUN_STATES for r in runs)

    def add_connection(self, conn_id: str, server: OcrServer, extra: Mapping[str, Any]) -> None:
        """Create the ``clova_ocr`` connection ``conn_id`` to ``server`` (in the metadata DB)."""
        body = {
            "connection_id": conn_id,
            "conn_type": "clova_ocr",
            "host": server.invoke_url,
            "password": server.secret,
            "extra": json.dumps(dict(extra)),
        }
        self.request("POST", "/api/v2/connections", json=body)

    def trigger(self, dag_id: str, run_id: str, conf: Mapping[str, Any]) -> None:
        """Trigger a run of ``dag_id`` with ``conf`` (its params)."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf)}
        self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)

    def run_state(self, dag_id: str, run_id: str) -> str:
        """The run's state."""
        return str(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait until the run ends; return ``success`` or ``failed``."""

        def ended() -> str | None:
            state = self.run_state(dag_id, run_id)
            return state if state in TERMINAL_RUN_STATES else None

        return wait_for(
            f"run {run_id} to end (tasks: {self.task_states(dag_id, run_id)})",
            ended,
            timeout,
            interval=3,
            diagnostics=self.diagnostics,
        )

    def fail_if_active(self, dag_id: str, run_id: str) -> None:
        """Mark the run failed if it has not ended (a scenario gave up on it)."""
        if self.run_state(dag_id, run_id) not in TERMINAL_RUN_STATES:
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"
            self.request("PATCH", path, json={"state": "failed"})

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances (mapped ones one per map index)."""
        body = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)
        return list(body["task_instances"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``{"task" or "task[i]": state}``."""
        with contextlib.suppress(DeploymentError, httpx.HTTPError):
            return {
                (t["task_id"] if t["map_index"] < 0 else f"{t['task_id']}[{t['map_index']}]"): str(
                    t["state"]
                )
                for t in self.task_instances(dag_id, run_id)
            }
        return {}

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
        """Every attempt's log of a task, from the shared log folder."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        files = sorted(folder.glob("attempt=*.log"))
        return "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in files)

    # -- scenarios' resources -------------------------------------------------------------------

    def database(self, prefix: str) -> str:
        """A fresh PostgreSQL database (dropped at teardown); its URI."""
        name = f"{prefix}_{self.token}"
        uri = create_database(name)
        self.databases.append(name)
        return uri

    def ocr_server(self, name: str, *options: str) -> OcrServer:
        """A private ``clova-etl serve`` (stopped at teardown)."""
        server = start_ocr_server(self.env, self.logs, name, secrets.token_urlsafe(24), *options)
        self.servers.append(server)
        return server

    def billing(self, store: Path) -> dict[str, Any]:
        """``clova-etl billing --store URI --json`` over a store."""
        done = subprocess.run(
            [sys.executable, "-m", "clova_etl.cli", "billing", "--store", str(store), "--json"],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"clova-etl billing exited {done.returncode}: {done.stderr}"
        body: dict[str, Any] = json.loads(done.stdout)
        return body

    def diagnostics(self) -> str:
        """The tail of every component's log."""
        parts = [f"\n--- {c.name} ({c.log}) ---\n{_tail(c.log)}" for c in self.components.values()]
        return "".join(parts)

    # -- teardown -------------------------------------------------------------------------------

    def stop(self) -> list[str]:
        """Stop every process and drop the databases; return the processes that would not die."""
        stray: list[str] = []
        for server in self.servers:
            stray += [f"{server.component.name}:{p}" for p in stop_component(server.component)]
        # Workers first (their task processes), then the scheduler and the rest.
        order = sorted(self.components.values(), key=lambda c: c.name not in WORKER_NAMES)
        for component in order:
            stray += [f"{component.name}:{p}" for p in stop_component(component)]
        for name in reversed(self.databases):
            with contextlib.suppress(Exception):
                drop_database(name)
        self._drop_queue()
        return stray

    def _drop_queue(self) -> None:
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"*{self.queue}*"):
                client.delete(key)


@contextlib.contextmanager
def running_cluster(root: Path) -> Iterator[Cluster]:
    """A started :class:`Cluster`, stopped (and checked for stray processes) on exit."""
    cluster = Cluster(root)
    try:
        cluster.start()
        yield cluster
    finally:
        stray = cluster.stop()
        assert not stray, f"processes survived the teardown: {stray}"
