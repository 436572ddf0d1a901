"""A real Airflow deployment for one test: PostgreSQL, scheduler, DAG processor, API server.

PostgreSQL (Debian's ``postgresql`` package; ``.ci/run`` installs it) gets a throw-away
cluster listening only on a Unix socket in a temporary folder; Airflow's metadata DB is
migrated into it; ``airflow scheduler``, ``airflow dag-processor`` and ``airflow
api-server`` (on 127.0.0.1) run as subprocesses with LocalExecutor, the repo's ``dags/``
and ``plugins/``, and the simple auth manager (every user an admin, as for local runs).
The test drives it through the REST API, as an operator's tooling would. Leaving the
``with`` block stops every process it started and removes the cluster.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
#: How long to wait for a DAG run, in seconds (the whole test must stay under 10 minutes).
RUN_TIMEOUT = 420


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SchedulerStack:
    """Start with ``with SchedulerStack() as stack:``; see the module docstring."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="spillover-stack-"))
        self.root.chmod(0o755)
        self.port = _free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.url = f"http://127.0.0.1:{self.port}"
        self.client: httpx.Client | None = None

    # ------------------------------------------------------------------ PostgreSQL

    def _as_postgres(self, *command: str) -> list[str]:
        """Run as the ``postgres`` user when we are root (the server refuses root)."""
        return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)

    def _start_postgres(self) -> str:
        bin_dir = postgres_bin()
        data, sockets = self.root / "pgdata", self.root / "pgsocket"
        sockets.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(sockets, "postgres")
        run = lambda *c: subprocess.run(self._as_postgres(*c), check=True, capture_output=True)  # noqa: E731
        run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "airflow", "-E", "UTF8")
        options = f"-c listen_addresses='' -c unix_socket_directories={sockets} -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
            str(self.root / "postgres.log"), "-w", "start")  # fmt: skip
        self._pg_stop = [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
        run(str(bin_dir / "createdb"), "-h", str(sockets), "-U", "airflow", "airflow")
        return f"postgresql+psycopg2://airflow@/airflow?host={sockets}"

    # ------------------------------------------------------------------ Airflow

    def environment(self, db_url: str) -> dict[str, str]:
        """Airflow's settings for every process of the stack."""
        home = self.root / "airflow"
        home.mkdir(exist_ok=True)
        return {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            # a test wants the DAG files parsed now and the scheduler's loop quick
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "OPENBLAS_NUM_THREADS": "1",
        }

    def _airflow(self, *args: str) -> None:
        done = subprocess.run(
            ["airflow", *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"airflow {' '.join(args)}:\n{done.stderr[-3000:]}"

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.root / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            ["airflow", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def logs(self, lines: int = 40) -> str:
        """The tail of every component's log (for assertion messages)."""
        parts = []
        for path in sorted(self.root.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def __enter__(self) -> SchedulerStack:
        try:
            self.env = self.environment(self._start_postgres())
            os.environ["PATH"] = f"{Path(os.sys.executable).parent}:{os.environ['PATH']}"
            self.env["PATH"] = os.environ["PATH"]
            self._airflow("db", "migrate")
            self._airflow("pools", "set", "spillover", "4", "spillover stages")
            self._spawn("scheduler", "scheduler")
            self._spawn("dag-processor", "dag-processor")
            self._spawn("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
            self._wait_for_api()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for_api(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                token = httpx.get(f"{self.url}/auth/token", timeout=5).json()["access_token"]
                self.client = httpx.Client(
                    base_url=f"{self.url}/api/v2",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
                return
            except (httpx.HTTPError, KeyError, ValueError):
                time.sleep(1)
        raise AssertionError(f"the API server did not answer in {timeout} s\n{self.logs()}")

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if getattr(self, "_pg_stop", None):
            subprocess.run(self._as_postgres(*self._pg_stop), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ REST API

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the DAG processor has stored ``dag_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.client.get(f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(1)
        raise AssertionError(f"DAG {dag_id} was not parsed in {timeout} s\n{self.logs()}")

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG (as the UI toggle does)."""
        answer = self.client.patch(f"/dags/{dag_id}", json={"is_paused": False})
        assert answer.status_code == 200, answer.text

    def trigger(self, dag_id: str, conf: dict) -> httpx.Response:
        """POST a DAG run with ``conf``; return the response (the caller checks it)."""
        body = {"logical_date": None, "conf": conf}
        return self.client.post(f"/dags/{dag_id}/dagRuns", json=body)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = RUN_TIMEOUT) -> dict:
        """Poll a DAG run until it succeeds or fails; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.client.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(2)
        raise AssertionError(f"{dag_id} run {run_id} did not end in {timeout} s\n{self.logs()}")

    def runs(self, dag_id: str) -> list[dict]:
        """Every run of a DAG."""
        return self.client.get(f"/dags/{dag_id}/dagRuns").json()["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of a run, mapped ones included."""
        answer = self.client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")
        return answer.json()["task_instances"]

    def asset_events(self, uri: str) -> list[dict]:
        """The events of the Asset with ``uri``."""
        assets = self.client.get("/assets", params={"uri_pattern": uri}).json()["assets"]
        asset_id = next(a["id"] for a in assets if a["uri"].rstrip("/") == uri.rstrip("/"))
        return self.client.get("/assets/events", params={"asset_id": asset_id}).json()[
            "asset_events"
        ]

    def wait_for_any_run(
        self, dag_id: str, *, run_type: str | None = None, timeout: float = RUN_TIMEOUT
    ) -> dict:
        """Wait until some run of ``dag_id`` (of ``run_type``, e.g. ``asset_triggered``) ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = [
                r
                for r in self.runs(dag_id)
                if r["state"] in ("success", "failed")
                and (run_type is None or r["run_type"] == run_type)
            ]
            if ended:
                return ended[0]
            time.sleep(2)
        raise AssertionError(f"no run of {dag_id} ended in {timeout} s\n{self.logs()}")

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """A task instance's log: one JSON line per structured log entry."""
        answer = self.client.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": True},
        )
        entries = answer.json()["content"]
        return "\n".join(json.dumps(entry, ensure_ascii=False) for entry in entries)
