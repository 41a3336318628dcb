import pytest

from raygate.constants import ALIAS_HISTORY_MAX_ENTRIES
from raygate.errors import RollbackError
from raygate.registry.history import HistoryEntry, decode_history, encode_history, rollback_target


def entry(version, previous, action="set"):
    return HistoryEntry(version, previous, action, "2026-11-27T00:00:00+00:00")


def test_rollback_returns_to_the_previous_version():
    assert rollback_target("champion", 2, [entry(1, None), entry(2, 1)]) == 1


def test_rollback_after_rollback_is_a_noop():
    history = [entry(1, None), entry(2, 1), entry(1, 2, "rollback")]
    assert rollback_target("champion", 1, history) is None


def test_rollback_of_an_unset_alias_is_an_error():
    with pytest.raises(RollbackError, match="not set"):
        rollback_target("champion", None, [])


def test_rollback_without_history_says_how_to_fix():
    with pytest.raises(RollbackError, match="raygate registry alias NAME champion VERSION"):
        rollback_target("champion", 3, [])


def test_rollback_refuses_when_the_alias_was_moved_outside_raygate():
    with pytest.raises(RollbackError, match="points to v5, but raygate last moved it to v2"):
        rollback_target("champion", 5, [entry(1, None), entry(2, 1)])


def test_rollback_of_the_first_version_is_an_error():
    with pytest.raises(RollbackError, match="no previous version"):
        rollback_target("champion", 1, [entry(1, None)])


def test_history_round_trips_and_keeps_the_newest_entries():
    entries = [entry(v, v - 1) for v in range(1, ALIAS_HISTORY_MAX_ENTRIES + 6)]
    decoded = decode_history(encode_history(entries))
    assert decoded == entries[-ALIAS_HISTORY_MAX_ENTRIES:]
    assert decode_history(None) == []


def test_corrupt_history_is_reported():
    with pytest.raises(RollbackError, match="corrupt"):
        decode_history("{not json")


@pytest.mark.parametrize(
    "alias", ["latest", "LATEST", "v2", "V10", "has space", "", "a/b", "Champion", "CANDIDATE"]
)
def test_reserved_or_invalid_aliases_are_refused(alias):
    from raygate.errors import RegistryError
    from raygate.registry.protocol import check_alias

    with pytest.raises(RegistryError, match="alias"):
        check_alias(alias)


@pytest.mark.parametrize("alias", ["champion", "candidate", "canary-2", "v2_rc", "Staging"])
def test_ordinary_aliases_pass(alias):
    from raygate.registry.protocol import check_alias

    assert check_alias(alias) == alias
