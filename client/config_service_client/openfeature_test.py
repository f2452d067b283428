"""The OpenFeature provider against the real service, through OpenFeature's own API: values
of every type, its error codes, and the context as the flag rules read it."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus

from config_service_client.client import ConfigClient
from config_service_client.openfeature import ConfigServiceProvider, context_of
from tests.waiting import wait_until

FLAGS: list[dict[str, Any]] = [
    {
        "key": "new-checkout",
        "enabled": True,
        "variants": {"on": True, "off": False},
        "default_variant": "off",
        "off_variant": "off",
        "rules": [
            {
                "conditions": [{"attribute": "targeting_key", "operator": "in", "values": ["user-1"]}],
                "variant": "on",
            }
        ],
    },
    {
        "key": "banner",
        "enabled": True,
        "variants": {"old": "Welcome", "new": "Hello again"},
        "default_variant": "old",
        "off_variant": "old",
        "rules": [
            {
                "conditions": [
                    {"attribute": "signed_up", "operator": "after", "values": ["2024-01-01T00:00:00Z"]}
                ],
                "variant": "new",
            }
        ],
    },
    {
        "key": "request-limit",
        "enabled": False,
        "variants": {"low": 10},
        "default_variant": "low",
        "off_variant": "low",
    },
    {
        "key": "ratio",
        "enabled": True,
        "variants": {"half": 0.5},
        "default_variant": "half",
        "off_variant": "half",
    },
    {
        "key": "layout",
        "enabled": True,
        "variants": {"grid": {"columns": 3}},
        "default_variant": "grid",
        "off_variant": "grid",
    },
]


@pytest.fixture
def client(service_url: str, admin_key: str, app_name: str) -> Iterator[ConfigClient]:
    with (
        ConfigClient(service_url, admin_key) as made,
        httpx.Client(base_url=service_url, headers={"Authorization": f"Bearer {admin_key}"}) as http,
    ):
        application_id = made.create_application(app_name).id
        for flag in FLAGS:
            response = http.post(f"/api/v1/applications/{application_id}/flags", json=flag)
            assert response.status_code == 201, response.text
        yield made


@pytest.fixture
def provider(client: ConfigClient, app_name: str) -> Iterator[ConfigServiceProvider]:
    made = ConfigServiceProvider(client, app_name)
    api.set_provider_and_wait(made)
    try:
        yield made
    finally:
        api.shutdown()  # providers shut down, handlers and hooks removed: nothing leaks
    assert made.flags is None  # its own flags were closed


def test_every_type_resolves_through_the_openfeature_client(provider: ConfigServiceProvider) -> None:
    of = api.get_client()
    user_1 = EvaluationContext(targeting_key="user-1")

    checkout = of.get_boolean_details("new-checkout", False, user_1)
    assert (checkout.value, checkout.variant, checkout.reason) == (True, "on", Reason.TARGETING_MATCH)
    assert checkout.error_code is None
    assert of.get_boolean_value("new-checkout", True, EvaluationContext(targeting_key="user-2")) is False
    assert of.get_string_value("banner", "default") == "Welcome"
    limit = of.get_integer_details("request-limit", 0)
    assert (limit.value, limit.reason) == (10, Reason.DISABLED)
    ratio = of.get_float_details("ratio", 0.0)
    assert (ratio.value, ratio.reason) == (0.5, Reason.STATIC)
    assert of.get_float_value("request-limit", 0.0) == 10.0  # an integer is a float too
    assert isinstance(of.get_float_value("request-limit", 0.0), float)
    assert of.get_object_value("layout", {}) == {"columns": 3}
    assert api.get_provider_metadata().name == "config-service"


def test_an_unknown_flag_is_the_default_with_flag_not_found(provider: ConfigServiceProvider) -> None:
    details = api.get_client().get_boolean_details("no-such-flag", True)

    assert (details.value, details.reason, details.error_code) == (
        True,
        Reason.ERROR,
        ErrorCode.FLAG_NOT_FOUND,
    )


@pytest.mark.parametrize(
    ("kind", "key", "default"),
    [
        ("boolean", "banner", False),  # a string flag
        ("string", "new-checkout", "default"),  # a boolean flag
        ("integer", "ratio", 7),  # a float is no integer
        ("integer", "new-checkout", 7),  # nor is a boolean
        ("float", "banner", 1.5),
        ("object", "request-limit", {"default": True}),
    ],
)
def test_a_flag_of_another_type_is_the_default_with_type_mismatch(
    provider: ConfigServiceProvider, kind: str, key: str, default: Any
) -> None:
    details = getattr(api.get_client(), f"get_{kind}_details")(key, default)

    assert (details.value, details.reason, details.error_code) == (
        default,
        Reason.ERROR,
        ErrorCode.TYPE_MISMATCH,
    )


def test_the_context_reaches_the_rules_as_they_read_it(provider: ConfigServiceProvider) -> None:
    of = api.get_client()
    recent = EvaluationContext(attributes={"signed_up": datetime(2025, 3, 1, tzinfo=UTC)})
    early = EvaluationContext(attributes={"signed_up": "2023-06-01T12:00:00Z"})
    # The targeting key wins over an attribute of its name.
    overridden = EvaluationContext(targeting_key="user-1", attributes={"targeting_key": "user-2"})

    assert of.get_string_value("banner", "default", recent) == "Hello again"
    assert of.get_string_value("banner", "default", early) == "Welcome"
    assert of.get_boolean_value("new-checkout", False, overridden) is True
    assert context_of(overridden) == {"targeting_key": "user-1"}
    assert context_of(None) == {}


def test_a_change_is_evaluated_and_announced(
    provider: ConfigServiceProvider, service_url: str, admin_key: str, client: ConfigClient, app_name: str
) -> None:
    announced: list[EventDetails] = []
    api.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, announced.append)
    of = api.get_client()
    user_1 = EvaluationContext(targeting_key="user-1")
    assert of.get_boolean_value("new-checkout", False, user_1) is True

    with httpx.Client(base_url=service_url, headers={"Authorization": f"Bearer {admin_key}"}) as http:
        response = http.patch(
            f"/api/v1/applications/{client.application_id(app_name)}/flags/new-checkout",
            content=b'{"enabled": false}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text

    wait_until(lambda: of.get_boolean_details("new-checkout", True, user_1).reason == Reason.DISABLED)
    assert of.get_boolean_value("new-checkout", True, user_1) is False
    wait_until(lambda: announced, what="PROVIDER_CONFIGURATION_CHANGED")
    assert announced[0].flags_changed == ["new-checkout"]


def test_set_provider_without_waiting_is_ready_once_initialized(client: ConfigClient, app_name: str) -> None:
    """OpenFeature initializes a provider on a thread of its own: until then, it is not ready."""
    api.set_provider(ConfigServiceProvider(client, app_name))
    try:
        of = api.get_client()
        wait_until(lambda: of.get_provider_status() == ProviderStatus.READY, what="the provider ready")
        assert of.get_boolean_value("new-checkout", False, EvaluationContext(targeting_key="user-1")) is True
    finally:
        api.shutdown()


def test_a_provider_of_flags_leaves_them_to_their_owner(client: ConfigClient, app_name: str) -> None:
    with client.flags(app_name) as flags:
        api.set_provider_and_wait(ConfigServiceProvider(flags))
        try:
            assert api.get_client().get_object_value("layout", {}) == {"columns": 3}
        finally:
            api.shutdown()
        assert flags.evaluate("layout").value == {"columns": 3}  # still open: not the provider's to close
    with pytest.raises(ValueError, match="application"):
        ConfigServiceProvider(client)
