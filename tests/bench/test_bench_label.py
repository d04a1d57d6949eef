"""Labelling a dataset through the runner keeps each solution, resumes, and never trusts a rejected label."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_helpers import tsp

from routelab.bench import label_dataset, read_results
from routelab.data.readers import write_instances
from routelab.problems import FormatError, check


def _dataset(tmp_path: Path, count: int = 4) -> Path:
    path = tmp_path / "tsp8.npz"
    write_instances([tsp(f"t{k}", 8, k) for k in range(count)], path)
    return path


def test_labels_hold_the_solutions_in_dataset_order(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    labels = label_dataset(data, "nearest", time_limit=5, out_dir=tmp_path / "out", workers=1)
    assert [item.name for item in labels] == ["t0", "t1", "t2", "t3"]
    assert all(item.ok for item in labels)
    for item in labels:
        assert item.solution is not None and item.solution.instance == item.name
        assert item.objective == pytest.approx(item.solution.objective)
    assert len(list((tmp_path / "out" / "solutions").glob("*.json"))) == 4


def test_labelling_resumes_without_solving_again(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    out = tmp_path / "out"
    first = label_dataset(data, "nearest", time_limit=5, out_dir=out, workers=1)
    stamps = [item.row.timestamp for item in first]
    again = label_dataset(data, "nearest", time_limit=5, out_dir=out, workers=1)
    assert [item.row.timestamp for item in again] == stamps
    assert len(read_results(out / "labels.csv")) == 4


def test_a_label_is_checked_by_the_scorer(tmp_path: Path) -> None:
    from routelab.data.readers import read_instances

    data = _dataset(tmp_path, count=2)
    labels = label_dataset(data, "nearest", time_limit=5, out_dir=tmp_path / "out", workers=1)
    for instance, item in zip(read_instances(data), labels, strict=True):
        assert check(instance, item.solution).objective == pytest.approx(item.objective)


def test_bad_dataset_and_option_are_named(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="dataset"):
        label_dataset(tmp_path / "missing.npz", "nearest", time_limit=5, out_dir=tmp_path / "out")
    with pytest.raises(TypeError):
        label_dataset(_dataset(tmp_path), "nearest", time_limit=5, out_dir=tmp_path / "o", options={"nope": 1})
