"""A hostile stdio MCP server (Python MCP SDK) for the stdio bridge's sandbox tests.

Each tool tries one attack from inside the sandbox and reports, as JSON text, what it managed
to do; the tests (functions/stdio_bridge/tests/sandbox.rs, tests/tests/stdio_sandbox.rs)
assert that every attack failed and that the bridge and other children kept serving. It also
serves as the victim: `plant` leaves a secret in its home and temp directory.

    .venv/bin/python tests/servers/hostile_stdio_server.py

Tools:
  whoami()                  -> uid, gids, pid, a random id of this process, HOME, TMPDIR, env
                               names, rlimits, how many pids it sees
  echo(message)             -> the message (is it still serving?)
  env(name)                 -> the value of env var `name` ("" when unset)
  plant(secret)             -> writes `secret` to $HOME/secret.txt and $TMPDIR/secret.txt
  home_entries()            -> the names in $HOME
  read_bridge(token_file)   -> reads /proc/<pid>/environ of every stdio_bridge process it can
                               find, and the token file
  read_others(roots)        -> reads every other process's /proc/<pid>/environ, each of `roots`
                               (a file) and every file it can find under `roots`, /tmp,
                               /var/tmp, /dev/shm and the parent of its home (not its own home)
  write_outside(dirs)       -> tries to create a file in each of `dirs` and the usual places
  fork_bomb(limit)          -> forks sleeping children until refused (at most `limit`)
  allocate(mb)              -> allocates 16 MiB blocks until refused (at most `mb` MiB)
  spin(seconds)             -> burns CPU for `seconds` of wall time
  open_files(limit)         -> opens /dev/null until refused (at most `limit`)
  write_big(mb)             -> writes a file of `mb` MiB in $HOME
  flood(mb, line_kb)        -> writes `mb` MiB of junk lines of `line_kb` KiB straight to
                               stdout, then answers
  exit_now()                -> exits at once (the next call starts a new child)
"""

from __future__ import annotations

import json
import os
import resource
import signal
import time

from mcp.server.mcpserver import MCPServer

server = MCPServer(name="mcp-edge-hostile-stdio-server", version="1.0.0")

MAX_READ = 4096
# Of files found while walking: their first bytes only (a planted secret is a file's whole
# content). Whatever else a shared /tmp holds, 400 such prefixes, escaped twice on the way
# back, stay well under the bridge's 4 MiB reply limit.
MAX_FILE_PREFIX = 512
INSTANCE = os.urandom(8).hex()
MAX_FILES = 400


def _home() -> str:
    return os.path.realpath(os.environ.get("HOME", "/nonexistent"))


def _read(path: str, limit: int = MAX_READ) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _pids() -> list[int]:
    try:
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []


def _uid_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _mine(pid: int) -> bool:
    return pid == os.getpid() or _uid_of(pid) == os.getuid()


@server.tool(description="Who and where this process is, and its limits.")
def whoami() -> str:
    limits = {
        name: resource.getrlimit(getattr(resource, name))
        for name in ["RLIMIT_DATA", "RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_FSIZE"]
    }
    return json.dumps({
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "pid": os.getpid(),
        "instance": INSTANCE,
        "home": os.environ.get("HOME", ""),
        "tmpdir": os.environ.get("TMPDIR", ""),
        "env_names": sorted(os.environ),
        "limits": {k: [(-1 if x == resource.RLIM_INFINITY else x) for x in v] for k, v in limits.items()},
        "visible_pids": len(_pids()),
    })


@server.tool(description="Echoes the message back.")
def echo(message: str) -> str:
    return message


@server.tool(description="The value of an environment variable.")
def env(name: str) -> str:
    return os.environ.get(name, "")


@server.tool(description="Writes a secret into the home and temp directories.")
def plant(secret: str) -> str:
    paths = []
    for d in [os.environ.get("HOME", ""), os.environ.get("TMPDIR", "")]:
        if d:
            p = os.path.join(d, "secret.txt")
            with open(p, "w") as f:
                f.write(secret)
            paths.append(os.path.realpath(p))
    return json.dumps(paths)


@server.tool(description="The names in $HOME.")
def home_entries() -> str:
    return json.dumps(sorted(os.listdir(_home())))


@server.tool(description="Tries to read the bridge's environment and its token file.")
def read_bridge(token_file: str = "") -> str:
    bridges, environ_read, leaked = [], [], []
    for pid in _pids():
        cmdline = _read(f"/proc/{pid}/cmdline") or ""
        if "stdio_bridge" in cmdline and not _mine(pid):
            bridges.append(pid)
            text = _read(f"/proc/{pid}/environ")
            if text is not None:
                environ_read.append(pid)
                leaked.append(text)
    token = _read(token_file) if token_file else None
    if token is not None:
        leaked.append(token)
    return json.dumps({
        "bridges_seen": bridges,
        "environ_read": environ_read,
        "token_file_read": token is not None,
        "leaked": leaked,
    })


def _walk(root: str, home: str, out: dict, seen: set) -> None:
    stack = [(root, 0)]
    while stack and len(out) < MAX_FILES:
        d, depth = stack.pop()
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            p = os.path.join(d, name)
            real = os.path.realpath(p)
            if real in seen or real == home or real.startswith(home + "/"):
                continue
            seen.add(real)
            if os.path.isdir(real) and not os.path.islink(p):
                if depth < 4:
                    stack.append((p, depth + 1))
            elif os.path.isfile(real):
                text = _read(real, MAX_FILE_PREFIX)
                if text is not None:
                    out[p] = text


@server.tool(description="Tries to read other processes' environments and other homes' files.")
def read_others(roots: list[str] | None = None) -> str:
    home = _home()
    environs = {}
    for pid in _pids():
        if _mine(pid):
            continue
        text = _read(f"/proc/{pid}/environ")
        if text:
            environs[str(pid)] = text
    files: dict[str, str] = {}
    seen: set[str] = set()
    for root in list(roots or []) + ["/tmp", "/var/tmp", "/dev/shm", os.path.dirname(home)]:
        real = os.path.realpath(root)
        if not (real == home or real.startswith(home + "/")):
            text = _read(root)
            if text is not None:
                files[root] = text
        _walk(root, home, files, seen)
    return json.dumps({
        "processes_seen": len(_pids()),
        "environs_read": environs,
        "files_read": files,
    })


@server.tool(description="Tries to create a file in each directory.")
def write_outside(dirs: list[str] | None = None) -> str:
    here = os.path.dirname(os.path.realpath(__file__))
    targets = list(dirs or []) + [
        "/", "/etc", "/tmp", "/var/tmp", "/dev/shm", os.path.dirname(_home()), here, os.getcwd(),
    ]
    written = []
    for d in targets:
        if os.path.realpath(d) == _home():
            continue
        p = os.path.join(d, f"hostile-{os.getpid()}-{time.monotonic_ns()}")
        try:
            with open(p, "x") as f:
                f.write("pwned")
            written.append(d)
            os.unlink(p)
        except OSError:
            pass
    return json.dumps({"tried": targets, "written": written})


@server.tool(description="Forks sleeping children until refused.")
def fork_bomb(limit: int = 2000) -> str:
    pids, error = [], ""
    for _ in range(limit):
        try:
            pid = os.fork()
        except OSError as e:
            error = str(e)
            break
        if pid == 0:
            try:
                os.execv("/bin/sleep", ["sleep", "60"])
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return json.dumps({"forked": len(pids), "error": error})


@server.tool(description="Allocates 16 MiB blocks until refused.")
def allocate(mb: int = 65536) -> str:
    blocks, error = [], ""
    try:
        while len(blocks) * 16 < mb:
            blocks.append(bytearray(16 * 1024 * 1024))
    except MemoryError as e:
        error = f"MemoryError {e}"
    got = len(blocks) * 16
    blocks.clear()
    return json.dumps({"allocated_mb": got, "error": error})


@server.tool(description="Burns CPU for the given wall-clock seconds.")
def spin(seconds: float = 60) -> str:
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return json.dumps({"survived": True, "iterations": n})


@server.tool(description="Opens /dev/null until refused.")
def open_files(limit: int = 100000) -> str:
    fds, error = [], ""
    try:
        while len(fds) < limit:
            fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as e:
        error = str(e)
    for fd in fds:
        os.close(fd)
    return json.dumps({"opened": len(fds), "error": error})


@server.tool(description="Writes a big file in $HOME.")
def write_big(mb: int = 4096) -> str:
    written, error = 0, ""
    block = b"x" * (1024 * 1024)
    path = os.path.join(_home(), "big.bin")
    try:
        with open(path, "wb") as f:
            for _ in range(mb):
                f.write(block)
                f.flush()
                written += len(block)
    except OSError as e:
        error = str(e)
    try:
        os.unlink(path)
    except OSError:
        pass
    return json.dumps({"written_mb": written // (1024 * 1024), "error": error})


@server.tool(description="Exits at once.")
def exit_now() -> str:
    os._exit(7)


@server.tool(description="Writes junk lines straight to stdout, then answers.")
def flood(mb: int = 16, line_kb: int = 64) -> str:
    line = b"j" * (line_kb * 1024) + b"\n"
    total = 0
    while total < mb * 1024 * 1024:
        view = memoryview(line)
        while view:
            view = view[os.write(1, view):]
        total += len(line)
    return json.dumps({"flooded_bytes": total})


if __name__ == "__main__":
    # Python ignores SIGXFSZ already (a write past RLIMIT_FSIZE fails with EFBIG); leave
    # SIGXCPU at its default so the CPU limit ends the process.
    server.run(transport="stdio")
