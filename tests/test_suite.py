"""The suite's own machinery: what `make test` relies on actually takes effect."""

import pytest


@pytest.mark.xdist_group("grouping_check")
def test_xdist_groups_take_effect(request):
    # `make test` runs `-n 2 --dist loadgroup` so that the tests sharing an expensive session
    # fixture (marked xdist_group) run on one worker and build it once. pytest 9.2 with
    # pytest-xdist 3.8 drops the groups without a word (xdist renames the items through
    # `item._nodeid`, which pytest 9.2 no longer reads): each worker then builds each fixture.
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@grouping_check"), request.node.nodeid
