"""The numbers' webhook keys kept in memory: known numbers only, for a while, within a size."""

from __future__ import annotations

from services.inbox.domain.webhook_keys import WebhookKey, WebhookKeys


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_kept_until_its_time_then_read_again() -> None:
    clock = Ticks()
    keys = WebhookKeys(ttl_seconds=60, clock=clock)
    key = WebhookKey(instance_id=7, tenant_id=3, secret_hash="ab")
    assert keys.get("plixa-a") is None
    keys.put("plixa-a", key)
    clock.now = 59.9
    assert keys.get("plixa-a") == key
    clock.now = 60.0
    assert keys.get("plixa-a") is None


def test_forget_drops_a_deleted_number_at_once() -> None:
    keys = WebhookKeys()
    keys.put("plixa-a", WebhookKey(1, 1, "ab"))
    keys.forget("plixa-a")
    keys.forget("plixa-never-seen")
    assert keys.get("plixa-a") is None


def test_the_oldest_key_makes_room_past_the_size() -> None:
    keys = WebhookKeys(size=2)
    for index, name in enumerate(("a", "b", "c")):
        keys.put(name, WebhookKey(index, 1, "h"))
    assert keys.get("a") is None
    assert keys.get("b") == WebhookKey(1, 1, "h")
    assert keys.get("c") == WebhookKey(2, 1, "h")
