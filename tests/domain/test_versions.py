"""Nobody forgets a version bump: the parse and the rule are fingerprinted on the generated
sample files (`fingerprint.py`) and compared with the fingerprints recorded here, next to the
version they belong to. A change of output fails until its version is bumped (stored datasets
and results are found by keys naming the versions: DEVELOPING.md, "Versions") and the new
fingerprint recorded; `python -m tests.domain.fingerprint` prints both.
"""

from __future__ import annotations

from tests.domain.fingerprint import parse_fingerprint, rule_fingerprint
from tpr_ws.domain.versions import PARSE_VERSION, RULE_VERSION

# (version, fingerprint of its output): record both together when one changes.
PARSE_RECORDED = (1, "9d5a1fe07748861bd20501cea4a032c1d39fda4a07002a2cd0778eee95b5598c")
RULE_RECORDED = (1, "8fe3dbd2cc0114550b532ab4f12f66341e8206f0df0f17face1f3c3db0c65279")


def _verdict(what: str, name: str, version: int, recorded: tuple[int, str], now: str) -> str:
    """'' when the version and fingerprint are the recorded pair, else what to do."""
    recorded_version, recorded_fingerprint = recorded
    if (version, now) == recorded:
        return ""
    if version == recorded_version:
        return (
            f"{what} output changed: bump {name} and update the fingerprint "
            f"(tests/domain/test_versions.py: ({version + 1}, {now!r})). If only the sample "
            f"generator changed, record the new fingerprint and keep the version."
        )
    if now == recorded_fingerprint:
        return (
            f"{name} is {version} but the fingerprint is recorded for {recorded_version}: "
            f"record ({version}, {now!r}) (a bump without an output change is harmless)."
        )
    return (
        f"{what} output changed and {name} is now {version}: update the fingerprint "
        f"(tests/domain/test_versions.py: ({version}, {now!r}))."
    )


def test_parse_output_is_the_one_recorded_for_parse_version() -> None:
    verdict = _verdict("parse", "PARSE_VERSION", PARSE_VERSION, PARSE_RECORDED, parse_fingerprint())
    assert not verdict, verdict


def test_rule_output_is_the_one_recorded_for_rule_version() -> None:
    verdict = _verdict("rule", "RULE_VERSION", RULE_VERSION, RULE_RECORDED, rule_fingerprint())
    assert not verdict, verdict


def test_a_changed_output_asks_for_the_bump() -> None:
    recorded = (3, "a" * 64)
    assert _verdict("parse", "PARSE_VERSION", 3, recorded, "a" * 64) == ""
    changed = _verdict("parse", "PARSE_VERSION", 3, recorded, "b" * 64)
    assert changed.startswith("parse output changed: bump PARSE_VERSION and update the fingerprint")
    assert "(4, 'bbbb" in changed
    assert "update the fingerprint" in _verdict("rule", "RULE_VERSION", 4, recorded, "b" * 64)
    assert "record (4, 'aaaa" in _verdict("rule", "RULE_VERSION", 4, recorded, "a" * 64)
