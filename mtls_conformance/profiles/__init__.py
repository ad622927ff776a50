"""Profiles: how each kind of target expresses accept / refuse and which headers it forwards.

Adding a profile is one small module that builds a :class:`Profile` and one line here.
"""

from __future__ import annotations

from mtls_conformance.errors import InputError
from mtls_conformance.profiles.apache import APACHE
from mtls_conformance.profiles.base import Expectation, HeaderNames, Profile
from mtls_conformance.profiles.caddy import CADDY
from mtls_conformance.profiles.haproxy import HAPROXY
from mtls_conformance.profiles.nginx_family import MULESOFT_DLB, NGINX

PROFILES: dict[str, Profile] = {
    profile.name: profile for profile in (MULESOFT_DLB, NGINX, HAPROXY, APACHE, CADDY)
}

DEFAULT_PROFILE = MULESOFT_DLB.name


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"--profile {name}: unknown profile (known: {known})") from None


__all__ = ["DEFAULT_PROFILE", "PROFILES", "Expectation", "HeaderNames", "Profile", "get_profile"]
