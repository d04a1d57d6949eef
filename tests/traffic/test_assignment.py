"""UE assignment: hand-solved networks (Braess, two parallel links), zone through-traffic, references on TNTP data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data.tntp import read_tntp_flow, read_tntp_net, read_tntp_trips
from routelab.traffic import (
    ALGORITHMS,
    RoadNetwork,
    all_or_nothing,
    beckmann,
    bpr_times,
    relative_gap,
    solve_ue,
    tstt,
)

TNTP = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "network_design" / "tntp"
needs_shared = pytest.mark.skipif(not TNTP.is_dir(), reason="../shared/benchmarks/network_design is not present")


def braess() -> tuple[RoadNetwork, np.ndarray]:
    """Braess: 1->3 and 4->2 cost 10x, 1->4 and 3->2 cost 50 + x, 3->4 costs 10 + x; 6 trips 1 -> 2."""
    net = RoadNetwork(
        num_nodes=4,
        num_zones=2,
        tail=[0, 0, 2, 2, 3],
        head=[2, 3, 1, 3, 1],
        capacity=[1.0] * 5,
        free_flow_time=[1e-8, 50.0, 50.0, 10.0, 1e-8],  # t0 (1 + b x) with t0 b = 10 and t0 ~ 0: "10 x"
        b=[1e9, 0.02, 0.02, 0.1, 1e9],
        power=[1.0] * 5,
    )
    return net, np.array([[0.0, 6.0], [0.0, 0.0]])


def two_links(power: float = 1.0) -> RoadNetwork:
    """Two parallel links 0 -> 1: t1 = 10 + x (b = 0.1, c = 1) and t2 = 15 + 0.5 x (b = 1/30, c = 1)."""
    return RoadNetwork(
        num_nodes=2,
        num_zones=2,
        tail=[0, 0],
        head=[1, 1],
        capacity=[1.0, 1.0],
        free_flow_time=[10.0, 15.0],
        b=[0.1, 1.0 / 30.0],
        power=[power, power],
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_braess_equilibrium(algorithm: str) -> None:
    net, demand = braess()
    res = solve_ue(net, demand, algorithm=algorithm, gap=1e-9)
    assert res.converged and res.gap <= 1e-9
    # every path costs 92: 1-3-2 = 40 + 52, 1-4-2 = 52 + 40, 1-3-4-2 = 40 + 12 + 40
    np.testing.assert_allclose(res.flows, [4, 2, 2, 2, 4], atol=1e-5)
    np.testing.assert_allclose(res.costs, [40, 52, 52, 12, 40], atol=1e-4)
    assert res.tstt == pytest.approx(6 * 92, rel=1e-7)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_two_links_closed_form(algorithm: str) -> None:
    # 10 + x1 = 15 + 0.5 (10 - x1)  =>  x1 = 20 / 3, both links cost 50 / 3
    res = solve_ue(two_links(), np.array([[0.0, 10.0], [0.0, 0.0]]), algorithm=algorithm, gap=1e-10)
    np.testing.assert_allclose(res.flows, [20 / 3, 10 / 3], rtol=1e-6)
    np.testing.assert_allclose(res.times, [50 / 3, 50 / 3], rtol=1e-7)
    # Beckmann: integral of 10 + x to 20/3 plus integral of 15 + 0.5 x to 10/3
    assert res.beckmann == pytest.approx(10 * 20 / 3 + (20 / 3) ** 2 / 2 + 15 * 10 / 3 + 0.25 * (10 / 3) ** 2)
    assert res.tstt == pytest.approx(10 * 50 / 3)


def test_light_demand_uses_only_the_faster_link() -> None:
    # 3 trips: link 1 costs at most 13 < 15, so link 2 stays empty; the gap is exactly 0 after the first AON
    res = solve_ue(two_links(), np.array([[0.0, 3.0], [0.0, 0.0]]), gap=1e-12)
    assert res.flows.tolist() == [3.0, 0.0] and res.iterations == 0
    assert res.times.tolist() == pytest.approx([13.0, 15.0])


def test_zones_are_not_passed_through() -> None:
    # nodes 0, 1, 2 are zones (FIRST THRU NODE 4); 0 -> 1 -> 2 is cheap, 0 -> 3 -> 2 expensive
    def network(first_thru: int) -> RoadNetwork:
        return RoadNetwork(
            num_nodes=4,
            num_zones=3,
            tail=[0, 1, 0, 3],
            head=[1, 2, 3, 2],
            capacity=[1.0] * 4,
            free_flow_time=[1.0, 1.0, 5.0, 5.0],
            b=[0.0] * 4,
            power=[1.0] * 4,
            first_thru_node=first_thru,
        )

    demand = np.zeros((3, 3))
    demand[0, 2] = 2.0
    demand[0, 1] = 1.0  # ending at a zone is fine
    flows, sp = all_or_nothing(network(4), demand, np.array([1.0, 1.0, 5.0, 5.0]))
    assert flows.tolist() == [1.0, 0.0, 2.0, 2.0] and sp == 1.0 + 2 * 10.0
    flows, sp = all_or_nothing(network(1), demand, np.array([1.0, 1.0, 5.0, 5.0]))
    assert flows.tolist() == [3.0, 2.0, 0.0, 0.0] and sp == 1.0 + 2 * 2.0
    # the origin itself is a zone and may be left
    assert solve_ue(network(4), demand).flows.tolist() == [1.0, 0.0, 2.0, 2.0]


def test_unreachable_demand_is_reported() -> None:
    net = RoadNetwork(
        num_nodes=3, num_zones=3, tail=[0], head=[1], capacity=[1.0], free_flow_time=[1.0], b=[0.15], power=[4.0]
    )
    demand = np.zeros((3, 3))
    demand[0, 2] = 1.0
    with pytest.raises(ValueError, match=r"1 OD pairs have trips but no path, e.g. zone 1 -> zone 3"):
        solve_ue(net, demand)


def test_generalised_cost_routes_but_tstt_counts_time() -> None:
    # equal times, but link 0 carries a toll: with a toll weight everyone takes link 1
    net = RoadNetwork(
        num_nodes=2,
        num_zones=2,
        tail=[0, 0],
        head=[1, 1],
        capacity=[1.0, 1.0],
        free_flow_time=[10.0, 10.0],
        b=[0.0, 0.0],
        power=[1.0, 1.0],
        toll=[100.0, 0.0],
        length=[1.0, 3.0],
    )
    demand = np.array([[0.0, 4.0], [0.0, 0.0]])
    res = solve_ue(net, demand, weights=(1.0, 0.02, 0.04))
    assert res.flows.tolist() == [0.0, 4.0]
    assert res.tstt == 40.0 and res.costs.tolist() == [12.04, 10.12]
    assert res.beckmann == pytest.approx(4 * 10.12)


def test_formulas_by_hand() -> None:
    net = two_links(power=4.0)
    x = np.array([2.0, 1.0])
    times = bpr_times(net, x)
    np.testing.assert_allclose(times, [10 * (1 + 0.1 * 16), 15 * (1 + 1 / 30)])
    assert tstt(net, x) == pytest.approx(float(np.dot(x, times)))
    # integral of t0 (1 + b (w / c)^4) = t0 (x + b x^5 / 5)
    assert beckmann(net, x) == pytest.approx(10 * (2 + 0.1 * 32 / 5) + 15 * (1 + 1 / 150))


def test_limits_and_bad_arguments() -> None:
    net, demand = braess()
    res = solve_ue(net, demand, gap=1e-12, max_iter=3)
    assert not res.converged and res.iterations == 3 and len(res.gaps) == 4
    res = solve_ue(net, demand, gap=1e-12, time_limit=0.0)
    assert not res.converged and res.iterations == 0 and np.isfinite(res.tstt)
    with pytest.raises(ValueError, match="algorithm"):
        solve_ue(net, demand, algorithm="msa")
    with pytest.raises(ValueError, match=r"demand: expected shape \(2, 2\)"):
        solve_ue(net, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="capacity"):
        RoadNetwork(
            num_nodes=2, num_zones=2, tail=[0], head=[1], capacity=[0.0], free_flow_time=[1.0], b=[0.15], power=[4.0]
        )


def _shared(folder: str, prefix: str) -> tuple[RoadNetwork, np.ndarray, np.ndarray | None]:
    net = read_tntp_net(TNTP / folder / f"{prefix}_net.tntp")
    demand = read_tntp_trips(TNTP / folder / f"{prefix}_trips.tntp", num_zones=net.num_zones)
    road = net.road_network()
    flow_file = TNTP / folder / f"{prefix}_flow.tntp"
    ref = read_tntp_flow(flow_file).aligned(net) if flow_file.exists() else None
    return road, demand, ref


@needs_shared
def test_sioux_falls_reference() -> None:
    road, demand, ref = _shared("SiouxFalls", "SiouxFalls")
    assert ref is not None
    assert tstt(road, ref) == pytest.approx(7_480_225.34, abs=0.01)
    assert beckmann(road, ref) == pytest.approx(4_231_335.29, abs=0.01)
    assert abs(relative_gap(road, demand, ref)) < 1e-12
    res = solve_ue(road, demand, algorithm="bfw", gap=1e-5)
    assert res.converged and res.seconds < 5
    assert res.tstt == pytest.approx(7_480_225.34, rel=1e-3)
    assert res.beckmann == pytest.approx(4_231_335.29, rel=1e-3)
    assert np.abs(res.flows - ref).max() < 0.01 * ref.max()


@needs_shared
def test_eastern_massachusetts_travel_time() -> None:
    road, demand, _ = _shared("Eastern-Massachusetts", "EMA")
    res = solve_ue(road, demand, algorithm="bfw", gap=1e-5)
    assert res.tstt == pytest.approx(28_182, rel=1e-3)


@needs_shared
@pytest.mark.slow
def test_chicago_sketch_reference() -> None:
    road, demand, ref = _shared("Chicago-Sketch", "ChicagoSketch")
    weights = (1.0, 0.02, 0.04)
    assert ref is not None
    assert beckmann(road, ref, weights) == pytest.approx(17_313_018.74, abs=0.01)
    res = solve_ue(road, demand, gap=1e-4, weights=weights)
    assert res.beckmann == pytest.approx(17_313_018.74, rel=1e-4)
    assert res.tstt == pytest.approx(tstt(road, ref), rel=1e-3)


@needs_shared
@pytest.mark.slow
def test_threads_agree() -> None:
    # one load only: numba's OpenMP team spin-waits, so a whole threaded solve is slow on a busy machine
    road, demand, _ = _shared("SiouxFalls", "SiouxFalls")
    costs = bpr_times(road, np.full(road.num_links, 5000.0))
    one, sp_one = all_or_nothing(road, demand, costs, threads=1)
    two, sp_two = all_or_nothing(road, demand, costs, threads=2)
    np.testing.assert_allclose(one, two, rtol=1e-12)
    assert sp_one == pytest.approx(sp_two, rel=1e-12)
