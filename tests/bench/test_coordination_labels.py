"""Labelled coordination datasets and the schedule plot: labels through the bench runner, read back aligned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.bench.coordination_labels import label_coordination, label_paths, read_labels
from routelab.bench.coordination_plots import plot_coordination
from routelab.data.coordination_gen import generate_coordination
from routelab.data.readers import write_instances
from routelab.problems import FormatError, Solution, load_dataset, score_payload


def test_milp_labels_are_aligned_with_the_conflicts(tmp_path: Path) -> None:
    instances = generate_coordination(4, 2, 5)
    data = tmp_path / "coord4.npz"
    write_instances(instances, data)
    out = label_coordination(data, "milp", time_limit=5, workers=1)
    assert out == label_paths(data)[1] and (tmp_path / "coord4.labels" / "labels.csv").exists()
    labels = read_labels(out)
    assert labels["header"]["names"] == [inst.name for inst in instances]
    assert labels["feasible"].all() and labels["optimal"].all()
    for b, inst in enumerate(load_dataset(data)):
        orders = labels["orders_of"](b)
        assert len(orders) == inst.num_conflicts
        assert score_payload(inst, {"orders": orders.tolist()}).objective == pytest.approx(labels["objective"][b])
        assert labels["lower_bound"][b] == pytest.approx(labels["objective"][b])
    assert np.array_equal(read_labels(label_coordination(data, "milp", time_limit=5))["orders"], labels["orders"])


def test_labels_need_coordination_instances(tmp_path: Path) -> None:
    from routelab.data.generate import generate

    write_instances(generate("tsp", 5, 2, 0), tmp_path / "tsp.npz")
    with pytest.raises(FormatError, match="coordination instances"):
        label_coordination(tmp_path / "tsp.npz", "milp", time_limit=1)


def test_plot_draws_the_scorers_schedule(tmp_path: Path) -> None:
    inst = generate_coordination(6, 1, 0, release_spread=3.0)[0]
    plot_coordination(inst, None, tmp_path / "free.png")
    ok = Solution("coordination", inst.name, "test", {"orders": [0] * inst.num_conflicts})
    if score_payload(inst, ok.payload).feasible:
        plot_coordination(inst, ok, tmp_path / "ok.png")
        assert (tmp_path / "ok.png").stat().st_size > 10_000
    assert (tmp_path / "free.png").read_bytes()[:4] == b"\x89PNG"
    bad = Solution("coordination", inst.name, "test", {"orders": [0]})
    with pytest.raises(FormatError, match="feasible solution to draw"):
        plot_coordination(inst, bad, tmp_path / "bad.png")
