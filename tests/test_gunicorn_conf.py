"""What a reload (SIGHUP) loads anew: gunicorn's master imports the heavy third-party libraries
and forgets every tpr_ws module before it forks, so new workers import this release's code."""

from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO

MASTER = """
import sys
from gunicorn.config import Config
from gunicorn.util import load_class
import tpr_ws.gunicorn_conf as conf
conf.on_starting(None)
cfg = Config()
cfg.set("worker_class", conf.worker_class)
cfg.worker_class  # gunicorn loads the class in the master
print(" ".join(sorted(m for m in sys.modules if m == "tpr_ws" or m.startswith("tpr_ws."))))
conf.pre_fork(type("Arbiter", (), {})(), type("Worker", (), {})())
print(" ".join(sorted(m for m in sys.modules if m == "tpr_ws" or m.startswith("tpr_ws."))))
print(" ".join(sorted(m for m in conf.PRELOADED if m not in sys.modules)))
"""


def test_the_master_imports_the_libraries_but_no_tpr_ws_code_a_reload_must_replace() -> None:
    run = subprocess.run(
        [sys.executable, "-c", MASTER], cwd=REPO, capture_output=True, text=True, check=True
    )
    master, forked, missing = [*run.stdout.splitlines(), "", "", ""][:3]
    assert "tpr_ws.config" in master.split()  # the master does import tpr_ws ...
    assert forked == ""  # ... and a worker forked now inherits none of it
    assert missing == ""  # while every preloaded library is there to share


def test_new_workers_have_a_newer_generation_than_the_old() -> None:
    from types import SimpleNamespace

    from tpr_ws import gunicorn_conf

    # pre_fork forgets every tpr_ws module, as a master must; in this test process that would
    # leave later tests with a second copy of each module (functions that no longer pickle as
    # themselves): put this process's modules back afterwards.
    kept = {m: mod for m, mod in sys.modules.items() if m == "tpr_ws" or m.startswith("tpr_ws.")}
    try:
        master = SimpleNamespace()
        first = SimpleNamespace()
        gunicorn_conf.pre_fork(master, first)
        gunicorn_conf.on_reload(master)
        second = SimpleNamespace()
        gunicorn_conf.pre_fork(master, second)
    finally:
        for name in [m for m in sys.modules if m == "tpr_ws" or m.startswith("tpr_ws.")]:
            del sys.modules[name]
        sys.modules.update(kept)
    assert (first.generation, second.generation) == (0, 1)


def test_systemd_waits_longer_than_gunicorn_lets_a_worker_stop() -> None:
    from tpr_ws import gunicorn_conf

    unit = (REPO / "deploy" / "systemd" / "tpr-ws.service").read_text()
    stop = [line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("TimeoutStop")]
    assert stop and int(stop[0]) > gunicorn_conf.graceful_timeout
