"""The Flight front of ``deploy/flight-front`` as tests and benchmarks run it: the real nginx.

The deployment's template is rendered the way the nginx image renders it (``${NAME}`` replaced
by the values given, nothing else touched), into a throwaway folder with a minimal main
configuration around it (pid file, logs and temporary paths in that folder). nginx then
daemonizes: the command returns once the listening socket is open, so a client can connect at
once. Gateways, front and clients all live on loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ttp_assets_tests.conftest import free_port
from ttp_assets_tests.shared_data import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy" / "flight-front" / "flight-front.conf.template"
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None
    )
    if not found:
        raise FileNotFoundError(
            "nginx not found: the Flight front tests run the real front "
            "(bash scripts/setup_flight_front.sh installs it; Debian: apt-get install nginx)"
        )
    return found


def render(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``${NAME}`` of ``values`` replaced, as envsubst does."""
    out = _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    left = sorted({m.group(1) for m in _VARIABLE.finditer(out)})
    if left:
        raise ValueError(f"template variables without a value: {left}")
    return out


@dataclass
class Front:
    folder: Path
    port: int
    conf: Path

    @property
    def location(self) -> str:
        return f"grpc+tls://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        pid_file = self.folder / "nginx.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        subprocess.run(
            [nginx_binary(), "-p", str(self.folder), "-c", str(self.conf), "-s", "stop"],
            capture_output=True,
            timeout=30,
        )
        if pid is not None:
            _wait_gone(pid, timeout=10)


def start_front(folder: Path, gateway: str, cert: Path, key: Path) -> Front:
    """nginx with the deployment's front configuration, TLS on a free loopback port, in front of
    the gateway at ``gateway`` (``host:port``, plaintext)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "flight-front.conf").write_text(
        render(
            TEMPLATE.read_text(),
            {
                "FLIGHT_FRONT_LISTEN": f"127.0.0.1:{port}",
                "FLIGHT_FRONT_TLS_CERT": str(cert),
                "FLIGHT_FRONT_TLS_KEY": str(key),
                "FLIGHT_GATEWAY_ADDR": gateway,
            },
        )
    )
    temp = folder / "temp"
    temp.mkdir(exist_ok=True)
    # Workers run as root only when the test does (they write nothing outside this folder).
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\n"
        f"pid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        + "".join(
            f"    {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {folder}/flight-front.conf;\n"
        "}\n"
    )
    cmd = [nginx_binary(), "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    started = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if started.returncode != 0:
        raise RuntimeError(f"nginx did not start: {started.stderr}{_read(folder / 'error.log')}")
    return Front(folder, port, conf)


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _wait_gone(pid: int, timeout: float) -> None:
    """Wait (bounded) for the daemonized master to exit; kill it if it does not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(pid):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    # An exited daemon is a zombie until its new parent reaps it (never, under some init).
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
