"""Rate search (NDR/PDR) one trial at a time, with CSIT's MLRsearch deciding.

MLRsearch (PyPI ``MLRsearch``, FD.io CSIT; draft-ietf-bmwg-mlrsearch) looks for the
highest intended load whose loss ratio stays at or below a target, for several targets at
once: it starts at the maximum load, jumps to the forwarding rate it measured, expands
the interval until both bounds are known and halves it (in logarithmic load) until its
relative width is at most the precision, with short trials while the interval is wide
and full-length ones at the end. Its ``search()`` calls a measurer and waits; a playbook
runs one trial per step instead. So ``next_step`` replays the search from the start
against the trials already measured: the first load it asks for that has no trial yet is
the next trial, and a search that ends without asking for one is done. The search is
deterministic, so a replay asks the same loads again; trials are matched by the rate and
duration a test runs at, so a resumed search re-uses every finished trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

try:
    from MLRsearch import (
        AbstractMeasurer,
        Config,
        MeasurementResult,
        MultipleLossRatioSearch,
        SearchGoal,
    )

    HAVE_MLRSEARCH = True
except ImportError:  # check_search reports it in the first play, naming `search`
    HAVE_MLRSEARCH = False
    MultipleLossRatioSearch = AbstractMeasurer = object  # type: ignore[assignment,misc]

GOALS = ("ndr", "pdr")
PHASE_INITIAL = "initial"  # the maximum rate and the forwarding-rate guesses after it
PHASE_SHORT = "short"  # a trial shorter than full length while the interval narrows
PHASE_FULL = "full"  # a full-length trial: the answer rests on these
# Shorter targets before the full-length one: with 1 s and 10 s, trials of 1, 3 and 10 s.
PRECEDING_TARGETS = 2
# A step whose replay asks for more trials than this stops the search: MLRsearch ends
# well before for any precision a packet counter can resolve.
MAX_TRIALS = 60


@dataclass(frozen=True)
class SearchSpec:
    """What to search for in each configuration of a test set."""

    goals: tuple[str, ...]
    pdr_loss: float
    precision: float
    min_duration: int
    duration: int
    min_rate: int
    max_rate: int

    def targets(self) -> dict[str, float]:
        """Loss-ratio target of each goal."""
        return {goal: 0.0 if goal == "ndr" else self.pdr_loss for goal in self.goals}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "goals": list(self.goals)}


@dataclass(frozen=True)
class Trial:
    """A finished trial: the rate and whole seconds it ran, and its loss ratio."""

    rate: int
    duration: int
    loss_ratio: float


def spec_from(value: Mapping[str, Any]) -> SearchSpec:
    """A SearchSpec from its as_dict form (as it travels through the playbook)."""
    try:
        return SearchSpec(
            goals=tuple(value["goals"]),
            **{key: value[key] for key in SearchSpec.__dataclass_fields__ if key != "goals"},
        )
    except (KeyError, TypeError) as error:
        raise IcperfInputError(f"search: {value!r} is not a search spec ({error})") from None


def trial_seconds(duration: float) -> int:
    """Whole seconds a trial of ``duration`` runs (the applets' -t): at least 1."""
    return max(1, round(duration))


def trial_rate(load: float) -> int:
    """Packets per second a trial at ``load`` offers (the applets' -r)."""
    return max(1, round(load))


class _Needed(Exception):
    """Raised by the replay measurer at the first load no trial has measured yet."""

    def __init__(self, load: float, duration: float, initial: bool) -> None:
        super().__init__(load, duration)
        self.load, self.duration, self.initial = load, duration, initial


class _Replay(AbstractMeasurer):  # type: ignore[misc,valid-type]
    """Answers from the finished trials; the first unmeasured one ends the replay."""

    def __init__(self, trials: Sequence[Trial]) -> None:
        self.trials = {(t.rate, t.duration): t for t in trials}
        self.asked = 0
        self.search: _Search | None = None

    def measure(self, intended_duration: float, intended_load: float) -> Any:
        self.asked += 1
        if self.asked > MAX_TRIALS:
            raise IcperfInputError(f"search: no answer after {MAX_TRIALS} trials")
        key = (trial_rate(intended_load), trial_seconds(intended_duration))
        found = self.trials.get(key)
        if found is None:
            initial = self.search is None or not self.search.in_main_loop
            raise _Needed(intended_load, intended_duration, initial)
        # Counts scaled so that MLRsearch's loss ratio is the trial's own.
        # (any loss stays a loss, however small).
        scale = 10**12
        ratio = min(max(found.loss_ratio, 0.0), 1.0)
        return MeasurementResult(
            intended_duration=intended_duration,
            intended_load=intended_load,
            offered_count=scale,
            loss_count=max(1, round(ratio * scale)) if ratio > 0 else 0,
        )


class _Search(MultipleLossRatioSearch):  # type: ignore[misc,valid-type]
    """MLRsearch that tells whether it has left its initial trials."""

    in_main_loop = False

    def main_loop(self, load0: Any, load1: Any) -> None:
        self.in_main_loop = True
        super().main_loop(load0, load1)


def require_mlrsearch() -> None:
    """Refuse a search on a controller without MLRsearch, naming ``search``."""
    if not HAVE_MLRSEARCH:
        raise IcperfInputError(
            "search: the rate search needs the Python package MLRsearch on the controller "
            "(pip install MLRsearch==1.2.1, see requirements.txt)"
        )


def _config(spec: SearchSpec) -> Any:
    require_mlrsearch()
    preceding = PRECEDING_TARGETS if spec.min_duration < spec.duration else 0
    goals = [
        SearchGoal(
            loss_ratio=target,
            # One full-length trial decides a load: no trial may exceed the target.
            exceed_ratio=0.0,
            relative_width=spec.precision,
            initial_trial_duration=float(spec.min_duration),
            final_trial_duration=float(spec.duration),
            duration_sum=float(spec.duration),
            preceding_targets=preceding,
            # A switch that loses more than the target even at the minimum rate has no
            # answer; the search says so instead of raising.
            fail_fast=False,
        )
        for target in spec.targets().values()
    ]
    config = Config()
    config.goals = goals
    config.min_load = float(spec.min_rate)
    config.max_load = float(spec.max_rate)
    config.warmup_duration = None
    config.search_duration_max = 1e12  # trials are replayed, not timed
    return config


def _bound(stat: Any) -> int | None:
    return None if stat is None else trial_rate(float(stat))


def _bounds(search: Any, spec: SearchSpec) -> dict[str, dict[str, int | None]]:
    """Each goal's relevant lower and upper bound (full-length target) so far."""
    result = {}
    for goal, search_goal in zip(spec.goals, search.config.goals, strict=True):
        target = search.scaling.goal_to_final_target[search_goal]
        bounds = search.database.get_relevant_bounds(target=target)
        result[goal] = {"lower": _bound(bounds.clo), "upper": _bound(bounds.chi)}
    return result


def _trials(trials: Sequence[Mapping[str, Any] | Trial]) -> list[Trial]:
    out = []
    for index, trial in enumerate(trials):
        if isinstance(trial, Trial):
            out.append(trial)
            continue
        try:
            out.append(
                Trial(int(trial["rate"]), int(trial["duration"]), float(trial["loss_ratio"]))
            )
        except (KeyError, TypeError, ValueError) as error:
            raise IcperfInputError(f"trials[{index}]: {trial!r} is not a trial ({error})") from None
    return out


def next_step(
    spec: SearchSpec | Mapping[str, Any], trials: Sequence[Mapping[str, Any] | Trial]
) -> dict[str, Any]:
    """Given the finished trials of one configuration, the next trial or the answer.

    Returns ``{"done": False, "trial": {rate, duration, intended_duration, phase, goals},
    "bounds": ...}`` or ``{"done": True, "results": {goal: {...}}, "bounds": ...}``;
    ``bounds`` holds each goal's relevant lower and upper bound (rates of full-length
    trials) after the trials given. A goal's result has ``rate`` (None when even the
    minimum rate lost more than the target), its ``upper`` bound, the ``loss_ratio`` of the
    full-length trial at ``rate`` (the confirmation) and ``clamped`` (the maximum rate
    itself met the target: the switch may carry more).
    """
    spec = spec if isinstance(spec, SearchSpec) else spec_from(spec)
    done = _trials(trials)
    replay = _Replay(done)
    search = _Search(_config(spec))
    replay.search = search
    try:
        found = search.search(measurer=replay, debug=lambda _message: None)
    except (IcperfInputError, RuntimeError, ValueError) as error:
        # No answer within MAX_TRIALS, or MLRsearch refusing the trials: the search ends.
        return {"done": True, "error": str(error), "results": {}, "bounds": {}}
    except _Needed as needed:
        bounds = _bounds(search, spec)
        rate = trial_rate(needed.load)
        seconds = trial_seconds(needed.duration)
        if needed.initial:
            phase = PHASE_INITIAL
        else:
            phase = PHASE_FULL if seconds >= spec.duration else PHASE_SHORT
        # The goals whose interval the trial falls in (an open bound counts as open).
        goals = [
            goal
            for goal, have in bounds.items()
            if (have["lower"] is None or have["lower"] < rate)
            and (have["upper"] is None or rate < have["upper"])
        ] or list(spec.goals)
        return {
            "done": False,
            "trial": {
                "rate": rate, "duration": seconds,
                "intended_duration": round(needed.duration, 3), "phase": phase,
                "goals": goals,
            },
            "bounds": bounds,
        }  # fmt: skip
    bounds = _bounds(search, spec)
    full = {t.rate: t for t in done if t.duration >= spec.duration}
    results = {}
    for goal, search_goal in zip(spec.goals, search.config.goals, strict=True):
        lower = found[search_goal].relevant_lower_bound
        rate = _bound(lower)
        confirmation = full.get(rate) if rate is not None else None
        results[goal] = {
            "found": rate is not None,
            "rate": rate,
            "upper": _bound(found[search_goal].relevant_upper_bound),
            "loss_target": spec.targets()[goal],
            "loss_ratio": None if confirmation is None else confirmation.loss_ratio,
            "clamped": rate is not None and rate >= spec.max_rate,
        }
    return {"done": True, "error": None, "results": results, "bounds": bounds}


def trial_loss(
    senders: Sequence[Mapping[str, Any]],
    receivers: Sequence[Mapping[str, Any]],
    rate: int,
    duration: int,
) -> dict[str, Any]:
    """Loss ratio of a trial from its applets' summary records.

    Lost: packets offered and not received, plus packets the senders' pacers never offered
    because a sender fell behind (a chain that cannot carry the rate), over the larger of
    what was offered and what was intended (``rate`` x ``duration`` per sender):
    MLRsearch's definition. The pacer offers whole bursts, so a sender that kept up offers
    slightly more than intended, never less.
    """
    offered = sum(int(record.get("attempted") or 0) for record in senders)
    received = sum(int(record.get("rx") or 0) for record in receivers)
    intended = rate * duration * len(senders)
    unsent = max(0, intended - offered)
    lost = max(0, offered - received) + unsent
    overall = max(offered, intended)
    return {
        "offered": offered,
        "received": received,
        "intended": intended,
        "unsent": unsent,
        "loss_ratio": lost / overall if overall else 1.0,
    }
