"""Uploads sent gzip-compressed: decoded whole, bounded, damaged streams refused; SHA-256."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from tpr_ws.domain.encoding import check_sha256, decode_upload
from tpr_ws.errors import UploadRejected


def test_identity_and_gzip_give_back_the_file() -> None:
    data = b"State,LGA,Ward\n" * 1000
    assert decode_upload(data, "identity", max_bytes=10**6, file_name="a.csv") is data
    assert decode_upload(gzip.compress(data), "gzip", max_bytes=10**6, file_name="a.csv") == data
    two = gzip.compress(data[:100]) + gzip.compress(data[100:])  # several members, as gzip(1)
    assert decode_upload(two, "gzip", max_bytes=10**6, file_name="a.csv") == data


def test_a_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    with pytest.raises(UploadRejected) as err:
        decode_upload(bomb, "gzip", max_bytes=1_000_000, file_name="b.csv")
    assert err.value.code == "too_large" and "b.csv" in err.value.problems[0]


@pytest.mark.parametrize(
    "sent", [b"not gzip at all", gzip.compress(b"x" * 5000)[:-20], gzip.compress(b"x")[:5]]
)
def test_damaged_or_cut_streams_are_refused(sent: bytes) -> None:
    with pytest.raises(UploadRejected) as err:
        decode_upload(sent, "gzip", max_bytes=10**6, file_name="c.csv")
    assert err.value.code == "bad_encoding"


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(UploadRejected):
        decode_upload(b"x", "br", max_bytes=10, file_name="d.csv")


def test_sha256_is_checked_when_given() -> None:
    data = b"abc"
    check_sha256(data, hashlib.sha256(data).hexdigest().upper(), file_name="e.csv")
    check_sha256(data, "", file_name="e.csv")
    with pytest.raises(UploadRejected) as err:
        check_sha256(data + b"d", hashlib.sha256(data).hexdigest(), file_name="e.csv")
    assert err.value.code == "checksum_mismatch"
