"""Traffic strategies: pure functions of (strategy, weight, key), stable across processes."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from mlgate.rollout.strategies import Assignment, assign, bucket

KEYS = [f"user-{i}" for i in range(2000)]
SALT = "credit-risk"


def _never() -> float:
    raise AssertionError("a keyed request must not draw a random number")


def test_bucket_is_the_same_in_another_process() -> None:
    keys = ["alice", "bob", "", "ключ", "user-1999", "x" * 500]
    code = (
        "import json, sys\n"
        "from mlgate.rollout.strategies import bucket\n"
        "keys = json.loads(sys.argv[1])\n"
        "print(json.dumps([bucket(k, 'credit-risk') for k in keys]))\n"
    )
    # A different hash seed in the child: Python's hash() of a str would change.
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(keys)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(done.stdout) == [bucket(k, SALT) for k in keys]


def test_bucket_is_not_pythons_hash() -> None:
    code = "print(hash('alice'))"
    seeds = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    ]
    assert seeds[0] != seeds[1], "Python's hash() of a str changes between processes"
    assert bucket("alice", SALT) == bucket("alice", SALT)
    assert bucket("alice", SALT) != hash("alice") % 100


def test_bucket_is_spread_over_zero_to_hundred_and_salted() -> None:
    positions = [bucket(k, SALT) for k in KEYS]
    assert all(0.0 <= p < 100.0 for p in positions)
    deciles = [sum(1 for p in positions if d * 10 <= p < (d + 1) * 10) for d in range(10)]
    assert all(150 <= n <= 250 for n in deciles), deciles
    # Another model's salt puts the same user elsewhere: experiments are independent.
    other = [bucket(k, "another-model") for k in KEYS]
    assert sum(a == b for a, b in zip(positions, other, strict=True)) == 0


@pytest.mark.parametrize("weight", [1.0, 5.0, 30.0, 50.0, 90.0])
def test_canary_sends_the_weight_to_the_challenger(weight: float) -> None:
    roles = [assign("canary", weight, k, _never, salt=SALT).primary for k in KEYS]
    share = 100 * roles.count("challenger") / len(KEYS)
    assert abs(share - weight) <= 3.0, f"{share:.2f}% of keys at weight {weight}"


def test_canary_is_sticky_for_a_key_at_a_weight() -> None:
    for key in KEYS[:200]:
        first = assign("canary", 30.0, key, _never, salt=SALT)
        assert all(assign("canary", 30.0, key, _never, salt=SALT) == first for _ in range(5))
        assert first.primary == ("challenger" if bucket(key, SALT) < 30.0 else "champion")


def test_raising_the_weight_never_moves_a_key_back_to_the_champion() -> None:
    steps = [0.0, 1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 99.0, 100.0]
    for key in KEYS:
        roles = [assign("canary", w, key, _never, salt=SALT).primary for w in steps]
        first = roles.index("challenger")  # at 100 everyone is on the challenger
        assert roles[:first] == ["champion"] * first
        assert roles[first:] == ["challenger"] * (len(steps) - first), (key, roles)


def test_ab_assigns_like_a_canary() -> None:
    for key in KEYS[:300]:
        assert assign("ab", 50.0, key, _never, salt=SALT) == assign(
            "canary", 50.0, key, _never, salt=SALT
        )


@pytest.mark.parametrize("weight", [10.0, 30.0, 70.0])
def test_keyless_requests_are_split_at_random_with_the_weight(weight: float) -> None:
    draw = random.Random(7).random
    roles = [assign("canary", weight, None, draw, salt=SALT).primary for _ in range(4000)]
    share = 100 * roles.count("challenger") / len(roles)
    assert abs(share - weight) <= 3.0, share
    # Random, not alternating or fixed: both versions show up in any short run.
    assert 0 < roles[:100].count("challenger") < 100


def test_keyless_assignment_uses_the_random_draw() -> None:
    assert assign("canary", 30.0, None, lambda: 0.29, salt=SALT).primary == "challenger"
    assert assign("canary", 30.0, None, lambda: 0.30, salt=SALT).primary == "champion"


@pytest.mark.parametrize("key", [None, "alice", "bob"])
def test_blue_green_switches_everything_at_100_and_mirrors_before(key: str | None) -> None:
    draw = random.Random(1).random
    assert assign("blue-green", 100.0, key, draw, salt=SALT) == Assignment("challenger")
    for weight in (0.0, 50.0, 99.9):
        # before the switch the champion answers, and the challenger gets a copy to be judged
        found = assign("blue-green", weight, key, draw, salt=SALT)
        assert found == Assignment("champion", shadow=True)


@pytest.mark.parametrize("weight", [0.0, 30.0, 100.0])
def test_shadow_always_answers_with_the_champion(weight: float) -> None:
    draw = random.Random(2).random
    for key in [None, *KEYS[:100]]:
        chosen = assign("shadow", weight, key, draw, salt=SALT)
        assert chosen == Assignment("champion", shadow=True)


@pytest.mark.parametrize("strategy", ["none", "canary", "blue-green", "shadow", "ab"])
def test_without_a_challenger_the_champion_answers(strategy: str) -> None:
    chosen = assign(strategy, 100.0, "alice", _never, salt=SALT, has_challenger=False)
    assert chosen == Assignment("champion")


def test_strategy_none_and_weight_zero_send_nobody_to_the_challenger() -> None:
    for key in KEYS[:300]:
        assert assign("none", 100.0, key, _never, salt=SALT).primary == "champion"
        assert assign("canary", 0.0, key, _never, salt=SALT).primary == "champion"
    assert assign("canary", 100.0, "anyone", _never, salt=SALT).primary == "challenger"


def test_the_holdback_keeps_the_same_keys_on_the_champion_in_every_process() -> None:
    from mlgate.config.rollout import RolloutConfig

    plan = RolloutConfig(strategy="canary", analysis={"min_live_accuracy_delta": -0.02})
    weights = [plan.weight_at(step) for step in range(len(plan.steps))]
    assert weights == [5.0, 25.0, 50.0, 95.0]
    held = [
        k for k in KEYS if assign("canary", weights[-1], k, _never, salt=SALT).primary == "champion"
    ]
    assert abs(100 * len(held) / len(KEYS) - plan.holdback) <= 1.5
    # The held-back keys stayed with the champion at every step: none of them switched.
    for weight in weights:
        assert all(
            assign("canary", weight, k, _never, salt=SALT).primary == "champion" for k in held
        )
    # Another gateway replica (another process, another hash seed) holds back the same keys.
    code = (
        "import json, sys\n"
        "from mlgate.rollout.strategies import assign\n"
        "keys, salt, weight = json.loads(sys.argv[1])\n"
        "print(json.dumps([k for k in keys if assign('canary', weight, k, random=None, "
        "salt=salt).primary == 'champion']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps([KEYS, SALT, weights[-1]])],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PYTHONHASHSEED": "777", "PATH": "", "PYTHONPATH": ":".join(sys.path)},
    )
    assert json.loads(done.stdout) == held
