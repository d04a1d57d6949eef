"""``routelab train gnnvae`` end to end on a tiny budget: label, train, export with the record; resume; bad input."""

from __future__ import annotations

from typer.testing import CliRunner

from routelab.cli.app import app
from routelab.coordination.gnnvae import load_checkpoint


def test_train_gnnvae_labels_trains_exports_and_resumes(tmp_path) -> None:
    out = tmp_path / "g.pt"
    base = ["train", "gnnvae", "--robots", "3-4", "--count", "4", "--time-limit", "2", "--workers", "1"]
    dirs = ["--data-dir", str(tmp_path / "data"), "--run-dir", str(tmp_path / "run"), "-o", str(out)]
    result = CliRunner().invoke(app, [*base, "--epochs", "1", *dirs])
    assert result.exit_code == 0, result.output
    _, record = load_checkpoint(out)
    assert record["data"]["generated"] == 4 and record["data"]["labelled"] + record["data"]["no_feasible_label"] == 4
    assert record["epochs_run"] == 1 and record["command"].startswith("routelab train gnnvae")
    assert (tmp_path / "data" / "coord-R3-4-s0.labels" / "labels.csv").exists()

    result = CliRunner().invoke(app, [*base, "--epochs", "2", "--resume", *dirs])
    assert result.exit_code == 0, result.output
    _, record = load_checkpoint(out)
    assert [p["epoch"] for p in record["history"]] == [1, 2]  # epoch 1 came from last.pt, not retrained


def test_train_gnnvae_refuses_a_bad_robot_range(tmp_path) -> None:
    result = CliRunner().invoke(app, ["train", "gnnvae", "--robots", "9-3", "-o", str(tmp_path / "g.pt")])
    assert result.exit_code != 0
    assert "expected N or LO-HI" in result.output
