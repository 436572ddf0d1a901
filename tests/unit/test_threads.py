"""The scheduling of the engines' threads: at most one heavy item at a time."""

import threading

import pytest

from spillover.threads import one_heavy_at_a_time


def test_every_item_is_worked_once_and_at_most_one_heavy_item_runs_at_a_time():
    lock = threading.Lock()
    running = {"heavy": 0, "most": 0}

    def work(item):
        name, is_heavy = item
        if is_heavy:
            with lock:
                running["heavy"] += 1
                running["most"] = max(running["most"], running["heavy"])
            threading.Event().wait(0.002)  # room for a second heavy item to start
            with lock:
                running["heavy"] -= 1
        return name.upper()

    items = [(f"heavy {i}", True) for i in range(12)] + [(f"light {i}", False) for i in range(6)]
    done = dict(one_heavy_at_a_time(items, work, heavy=lambda item: item[1], threads=2))
    assert done == {item: item[0].upper() for item in items}
    assert running["most"] == 1


def test_a_thread_takes_light_items_while_another_works_on_a_heavy_one():
    """The first heavy item waits until a light one ran: a second thread must take it."""
    light_ran = threading.Event()

    def work(item):
        if item.startswith("heavy"):
            assert light_ran.wait(timeout=10), "no light item ran beside the heavy one"
        else:
            light_ran.set()
        return item

    items = ["heavy 0", "heavy 1", "light 0"]
    order = [
        item
        for item, _ in one_heavy_at_a_time(items, work, heavy=lambda i: "heavy" in i, threads=2)
    ]
    assert sorted(order) == sorted(items)
    assert order.index("light 0") < order.index("heavy 1")


def test_an_error_in_the_work_is_raised_to_the_caller():
    def work(item):
        if item == 3:
            raise ValueError("item 3 is broken")
        return item

    with pytest.raises(ValueError, match="item 3 is broken"):
        list(one_heavy_at_a_time(range(8), work, heavy=lambda item: item < 2, threads=2))


def test_one_thread_works_the_items_in_their_order():
    items = [5, 4, 3, 2, 1]
    done = [item for item, _ in one_heavy_at_a_time(items, str, heavy=lambda i: i > 3, threads=1)]
    assert done == items
