"""The client address the limits count: the peer, or what a trusted proxy forwarded."""

from __future__ import annotations

import pytest

from tpr_ws.transport.limits import ClientAddresses


def test_without_trusted_proxies_the_peer_is_the_client_and_forwarded_for_is_ignored() -> None:
    addresses = ClientAddresses(())
    assert addresses.resolve("203.0.113.7", []) == "203.0.113.7"
    assert addresses.resolve("203.0.113.7", ["198.51.100.1"]) == "203.0.113.7"


def test_a_trusted_proxy_forwards_the_address_it_saw() -> None:
    addresses = ClientAddresses(("10.0.0.0/8",))
    assert addresses.resolve("10.1.2.3", ["198.51.100.1"]) == "198.51.100.1"


@pytest.mark.parametrize(
    ("header", "client"),
    [
        # a client's own X-Forwarded-For comes first: only hops appended by trusted proxies count
        (["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
        (["1.1.1.1", "198.51.100.1, 10.0.0.2"], "198.51.100.1"),  # two headers, two proxies
        (["garbage, 198.51.100.1"], "198.51.100.1"),
        (["198.51.100.1, garbage"], "10.0.0.1"),  # unparsable hop: stop at the proxy
        (["10.0.0.5, 10.0.0.2"], "10.0.0.5"),  # every hop trusted: the farthest one
    ],
)
def test_forwarded_for_is_read_from_the_right(header: list[str], client: str) -> None:
    assert ClientAddresses(("10.0.0.0/8",)).resolve("10.0.0.1", header) == client


def test_an_untrusted_peer_cannot_spoof_through_a_trusted_address() -> None:
    addresses = ClientAddresses(("10.0.0.0/8",))
    assert addresses.resolve("203.0.113.7", ["10.0.0.1, 1.2.3.4"]) == "203.0.113.7"


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    addresses = ClientAddresses(())
    a = addresses.resolve("2001:db8:1:2:aaaa::1", [])
    b = addresses.resolve("2001:db8:1:2:bbbb::9", [])
    assert a == b == "2001:db8:1:2::/64"
    assert addresses.resolve("::ffff:198.51.100.1", []) == "198.51.100.1"
    assert addresses.resolve(None, []) == "unknown"
