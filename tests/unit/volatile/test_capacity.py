"""Worker slots: announced with an expiry, summed per lane, gone when withdrawn or expired;
and the window they size."""

from __future__ import annotations

import fakeredis
import pytest

from accounting.config import Settings
from accounting.domain.lanes import Lane
from accounting.services.dispatcher import window_batches
from accounting.volatile.capacity import WorkerSlots


def test_slots_are_summed_per_lane_until_withdrawn() -> None:
    slots = WorkerSlots(fakeredis.FakeRedis())
    slots.announce(Lane.NORMAL, "a", 4)
    slots.announce(Lane.NORMAL, "b", 2)
    slots.announce(Lane.HIGH, "c", 2)
    assert (slots.live(Lane.NORMAL), slots.live(Lane.HIGH)) == (6, 2)
    slots.announce(Lane.NORMAL, "a", 1)  # a restarted worker announces anew
    slots.withdraw(Lane.NORMAL, "b")
    assert slots.live(Lane.NORMAL) == 1


def test_an_announcement_not_renewed_stops_counting() -> None:
    client = fakeredis.FakeRedis()
    WorkerSlots(client, ttl_seconds=-1).announce(Lane.NORMAL, "dead", 8)
    WorkerSlots(client).announce(Lane.NORMAL, "alive", 2)
    assert WorkerSlots(client).live(Lane.NORMAL) == 2
    assert client.hkeys("accounting:worker-slots:normal") == [b"alive"]  # removed


@pytest.mark.parametrize(
    ("slots", "expected"), [(0, 6), (2, 6), (8, 16), (100, 200), (10_000, 512)]
)
def test_the_normal_window_follows_slots_between_its_floor_and_its_cap(
    slots: int, expected: int
) -> None:
    assert window_batches(Settings(), Lane.NORMAL, slots) == expected


def test_the_high_window_and_a_fixed_window_ignore_slots() -> None:
    assert window_batches(Settings(), Lane.HIGH, 100) == Settings().high_window_batches
    fixed = Settings(window_follows_capacity=False)
    assert window_batches(fixed, Lane.NORMAL, 100) == fixed.window_batches
