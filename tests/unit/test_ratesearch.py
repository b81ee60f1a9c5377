"""The rate search against simulated devices: NDR, PDR, both, precision, clamps, noise."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from ansible_collections.icperf.lab.plugins.module_utils import ratesearch
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.ratesearch import SearchSpec, Trial

KNEE = 1_234_567.0
PDR_LOSS = 0.005
PDR_KNEE = KNEE / (1 - PDR_LOSS)  # where (rate - KNEE) / rate reaches PDR_LOSS


def spec(goals: tuple[str, ...] = ("ndr", "pdr"), **changes: object) -> SearchSpec:
    fields = {"goals": goals, "pdr_loss": PDR_LOSS, "precision": 0.005, "min_duration": 1,
              "duration": 10, "min_rate": 10_000, "max_rate": 10_000_000, **changes}  # fmt: skip
    return SearchSpec(**fields)  # type: ignore[arg-type]


def capped(knee: float) -> Callable[[int, int], float]:
    """A device that forwards at most ``knee`` pps and loses the rest."""
    return lambda rate, _duration: max(0.0, (rate - knee) / rate)


def run(
    search: SearchSpec, device: Callable[[int, int], float]
) -> tuple[dict, list[dict], list[Trial]]:
    """Step the search to its end as the playbook does; the steps and trials it took."""
    trials: list[Trial] = []
    steps = []
    while not (step := ratesearch.next_step(search, trials))["done"]:
        steps.append(step)
        trial = step["trial"]
        trials.append(
            Trial(trial["rate"], trial["duration"], device(trial["rate"], trial["duration"]))
        )
        assert len(trials) <= ratesearch.MAX_TRIALS
    return step, steps, trials


def test_ndr_is_the_highest_rate_without_loss_within_the_precision() -> None:
    answer, _steps, trials = run(spec(("ndr",)), capped(KNEE))
    assert answer["error"] is None
    ndr = answer["results"]["ndr"]
    assert ndr["found"] and not ndr["clamped"]
    assert KNEE * (1 - 0.005) <= ndr["rate"] <= KNEE
    assert ndr["upper"] > KNEE
    assert (ndr["upper"] - ndr["rate"]) / ndr["upper"] <= 0.005 + 1e-9
    # The answer rests on a full-length trial at that rate, without loss.
    assert ndr["loss_ratio"] == 0.0
    assert Trial(ndr["rate"], 10, 0.0) in trials
    assert set(answer["results"]) == {"ndr"}
    assert len(trials) <= 12


def test_trials_start_short_at_the_maximum_rate_and_end_full_length() -> None:
    _answer, steps, trials = run(spec(("ndr",)), capped(KNEE))
    assert (trials[0].rate, trials[0].duration) == (10_000_000, 1)
    assert steps[0]["trial"]["phase"] == ratesearch.PHASE_INITIAL
    assert trials[-1].duration == 10
    durations = [t.duration for t in trials]
    assert durations == sorted(durations)  # longer as the interval narrows
    assert len(set(durations)) > 1
    phases = [s["trial"]["phase"] for s in steps]
    assert ratesearch.PHASE_FULL in phases and ratesearch.PHASE_SHORT in phases
    for step in steps:
        full = step["trial"]["duration"] >= 10
        assert full == (step["trial"]["phase"] == ratesearch.PHASE_FULL) or (
            step["trial"]["phase"] == ratesearch.PHASE_INITIAL
        )


def test_pdr_allows_its_loss_ratio() -> None:
    answer, _steps, _trials = run(spec(("pdr",)), capped(KNEE))
    pdr = answer["results"]["pdr"]
    assert PDR_KNEE * (1 - 0.005) <= pdr["rate"] <= PDR_KNEE
    assert 0 < pdr["loss_ratio"] <= PDR_LOSS
    assert pdr["loss_target"] == PDR_LOSS


def test_ndr_and_pdr_at_once_share_trials() -> None:
    both, _steps, trials = run(spec(), capped(KNEE))
    ndr_alone = run(spec(("ndr",)), capped(KNEE))
    pdr_alone = run(spec(("pdr",)), capped(KNEE))
    assert both["results"]["ndr"]["rate"] <= both["results"]["pdr"]["rate"]
    assert both["results"]["ndr"]["rate"] == ndr_alone[0]["results"]["ndr"]["rate"]
    assert KNEE * 0.995 <= both["results"]["ndr"]["rate"] <= KNEE
    assert PDR_KNEE * 0.995 <= both["results"]["pdr"]["rate"] <= PDR_KNEE
    assert len(trials) < len(ndr_alone[2]) + len(pdr_alone[2])


@pytest.mark.parametrize("precision", [0.05, 0.01, 0.001])
def test_the_interval_ends_within_the_precision(precision: float) -> None:
    answer, _steps, trials = run(spec(precision=precision), capped(KNEE))
    for goal in ("ndr", "pdr"):
        result = answer["results"][goal]
        # MLRsearch's relative width: (upper - lower) / upper; rates are whole pps.
        width = (result["upper"] - result["rate"]) / result["upper"]
        assert width <= precision + 2 / result["upper"]
    coarse = run(spec(precision=0.05), capped(KNEE))[2]
    assert len(coarse) <= len(trials)


def test_a_device_that_never_loses_is_clamped_at_the_maximum_rate() -> None:
    answer, _steps, trials = run(spec(max_rate=2_000_000), capped(1e9))
    for goal in ("ndr", "pdr"):
        result = answer["results"][goal]
        assert (result["rate"], result["clamped"], result["upper"]) == (2_000_000, True, None)
    assert {t.rate for t in trials} == {2_000_000}


def test_a_device_that_loses_at_every_rate_has_no_answer() -> None:
    answer, _steps, trials = run(spec(), lambda _rate, _duration: 0.5)
    assert answer["error"] is None
    for goal in ("ndr", "pdr"):
        assert answer["results"][goal]["found"] is False
        assert answer["results"][goal]["rate"] is None
    assert min(t.rate for t in trials) == 10_000
    assert len(trials) <= 12


def test_noise_leaves_a_conservative_answer_confirmed_at_full_length() -> None:
    for seed in range(5):
        rng = random.Random(seed)

        def noisy(rate: int, duration: int, rng: random.Random = rng) -> float:
            loss = max(0.0, (rate - KNEE) / rate)
            # Near the knee a trial sometimes loses a little more than the curve says.
            if rate > KNEE * 0.97 and rng.random() < 0.5:
                loss += 0.002 * rng.random()
            return loss

        answer, _steps, trials = run(spec(), noisy)
        full = {t.rate: t.loss_ratio for t in trials if t.duration == 10}
        for goal, target in (("ndr", 0.0), ("pdr", PDR_LOSS)):
            result = answer["results"][goal]
            assert full[result["rate"]] <= target
            assert result["loss_ratio"] == full[result["rate"]]
            assert KNEE * 0.95 <= result["rate"] <= PDR_KNEE
        assert len(trials) <= 25


def test_equal_durations_make_every_trial_full_length() -> None:
    _answer, _steps, trials = run(spec(min_duration=3, duration=3), capped(KNEE))
    assert {t.duration for t in trials} == {3}


def test_a_replay_asks_for_the_same_trials_so_a_search_resumes() -> None:
    _answer, steps, trials = run(spec(), capped(KNEE))
    for count in range(len(trials)):
        again = ratesearch.next_step(spec(), trials[:count])
        assert again["trial"] == steps[count]["trial"]
    # Trials given as the playbook keeps them (mappings), in any order.
    mappings = [{"rate": t.rate, "duration": t.duration, "loss_ratio": t.loss_ratio}
                for t in reversed(trials)]  # fmt: skip
    assert ratesearch.next_step(spec().as_dict(), mappings)["done"] is True


def test_bounds_narrow_as_trials_come_in() -> None:
    _answer, steps, _trials = run(spec(("ndr",)), capped(KNEE))
    assert steps[0]["bounds"] == {"ndr": {"lower": None, "upper": None}}
    last = steps[-1]["bounds"]["ndr"]
    assert last["upper"] is not None and last["upper"] > KNEE


def test_bad_trials_are_refused_naming_them() -> None:
    with pytest.raises(IcperfInputError, match=r"^trials\[1\]: "):
        ratesearch.next_step(spec(), [{"rate": 1, "duration": 1, "loss_ratio": 0}, {"rate": 5}])
    with pytest.raises(IcperfInputError, match=r"^search: "):
        ratesearch.next_step({"goals": ["ndr"]}, [])


def test_trial_loss_counts_what_was_not_received_and_never_offered() -> None:
    # A sender that kept up offers whole bursts: a little more than rate x duration.
    kept_up = ratesearch.trial_loss([{"attempted": 1024}], [{"rx": 1024}], 100, 10)
    assert kept_up["loss_ratio"] == 0.0 and kept_up["unsent"] == 0
    lost = ratesearch.trial_loss([{"attempted": 1000}], [{"rx": 990}], 100, 10)
    assert lost["loss_ratio"] == pytest.approx(0.01)
    # A sender that fell behind skipped bursts: not offered, counted as lost.
    behind = ratesearch.trial_loss([{"attempted": 800}], [{"rx": 800}], 100, 10)
    assert (behind["unsent"], behind["loss_ratio"]) == (200, pytest.approx(0.2))
    pairs = ratesearch.trial_loss([{"attempted": 1000}] * 2, [{"rx": 1000}, {"rx": 500}], 100, 10)
    assert pairs["loss_ratio"] == pytest.approx(0.25)
    # Duplicates never make a negative loss.
    assert ratesearch.trial_loss([{"attempted": 10}], [{"rx": 12}], 1, 10)["loss_ratio"] == 0.0
