"""tests/servers/py_server.py with uvicorn's access log on, so the benchmark can count the
requests that reach the server (one `"POST /mcp HTTP/1.1"` line per request). Same arguments."""

import runpy
import sys
from pathlib import Path

import uvicorn

_run = uvicorn.run


def _logged_run(app, **kwargs):  # type: ignore[no-untyped-def]
    kwargs["log_level"] = "info"
    kwargs["access_log"] = True
    return _run(app, **kwargs)


uvicorn.run = _logged_run
script = Path(__file__).resolve().parents[1] / "servers" / "py_server.py"
sys.argv = [str(script), *sys.argv[1:]]
runpy.run_path(str(script), run_name="__main__")
