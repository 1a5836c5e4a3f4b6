"""The run dialog's servers: probed on the read lane (a real llama-cpp-python server and a dead
port), listed with health and capacity, carried into the run request; per-server speeds."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from figure_study import make_figure_study
from fleet_servers import LlamaServer, free_port

from monoscope.core import assets
from monoscope.ui.views import servers_box
from monoscope.ui.views.run_dialog import RunDialog, RunInputError
from monoscope.ui.views.runs_panel import server_speeds

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def test_dialog_probes_servers_off_the_gui_thread(qtbot, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("uvicorn", reason="install llama-cpp-python's server extras (dev deps)")
    threads: list[bool] = []
    real = servers_box.probe_all

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*a, **k)

    monkeypatch.setattr(servers_box, "probe_all", spy)
    st = make_figure_study(tmp_path / "fig.duckdb")
    srv = LlamaServer(assets.locate("smollm2")).wait_ready()
    dead = f"http://127.0.0.1:{free_port()}"
    try:
        dlg = RunDialog(st, 1, selected_keys=["p2"])
        qtbot.addWidget(dlg)
        assert dlg.runner.wait(30)
        dlg.servers.edit.setPlainText(f"{srv.url}/v1 3\n# a comment\n{dead}\n")
        with qtbot.waitSignal(dlg.servers.probed, timeout=60_000):
            dlg.servers.check.click()
        assert threads == [False]  # probed in a worker, never on the GUI thread
        t = dlg.servers.table
        rows = [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]
        assert rows[0][0] == srv.url and rows[0][1].startswith("up (")
        assert rows[0][2:] == ["llama-cpp-python", "3 (user)", "one", "checked (schema)"]
        assert rows[1][0] == dead and rows[1][1].startswith("down: ")
        assert dlg.servers.status.text() == "1 of 2 server(s) answer; 3 requests in flight in all."
        dlg.resize(900, 900)
        dlg.grab().save("/tmp/h16_run_dialog_servers.png")
        spec = dlg.build_spec()
        assert spec.extra == {"servers": [{"url": srv.url, "slots": 3}, {"url": dead, "slots": None}]}
        req = spec.to_request("films")
        assert (req.engine, req.base_url, list(req.base_urls)) == ("http", srv.url, [dead])
        assert req.server_slots == {srv.url: 3}
        dlg.servers.edit.setPlainText("http://gpu1:8080 many")
        with pytest.raises(RunInputError, match="write `URL` or `URL SLOTS`"):
            dlg.build_spec()
    finally:
        srv.stop()
        st.close()


def test_per_server_speed_text() -> None:
    assert server_speeds({}) == ""
    got = server_speeds({"http://10.0.0.2:8080": {"tok_s": 61.4, "samples": 40.0},
                         "http://10.0.0.1:8080": {"tok_s": 58.6, "samples": 38.0}})
    assert got == " · 10.0.0.1:8080 59 tok/s (38), 10.0.0.2:8080 61 tok/s (40)"
