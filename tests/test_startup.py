"""`long_lived_imports`: the collector is off inside, restored after, and what was built is frozen."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mtb.startup import long_lived_imports


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()  # the test process's objects go back to the collector
    if enabled:
        gc.enable()
    else:
        gc.disable()


class Node:
    def __init__(self) -> None:
        self.itself = self  # a cycle: only the cyclic collector could ever free it


def test_collector_is_off_inside_and_on_after() -> None:
    gc.enable()
    with long_lived_imports():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    with long_lived_imports():
        pass
    assert not gc.isenabled()


def test_what_the_block_built_is_frozen() -> None:
    gc.unfreeze()
    with long_lived_imports():
        node = Node()
    assert gc.get_freeze_count() > 0
    # Frozen objects are left out of every generation the collector walks.
    assert not any(obj is node for generation in range(3) for obj in gc.get_objects(generation))


def test_collector_is_restored_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(ImportError), long_lived_imports():
        import mtb_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()


def test_the_judge_path_freezes_the_sdk_and_leaves_the_collector_on() -> None:
    """In a fresh process, as `mtb judge` runs: the openai SDK's objects frozen, collection on."""
    code = (
        "import gc\n"
        "from mtb.backends import EndpointConfig, create_backend\n"
        "create_backend(EndpointConfig(provider='openai', model='m', api_base='http://127.0.0.1:9/v1',"
        " api_key='k', timeout=5.0))\n"
        "import openai\n"
        "frozen = gc.get_freeze_count()\n"
        "walked = sum(len(gc.get_objects(g)) for g in range(3))\n"
        "print(gc.isenabled(), frozen > walked)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
