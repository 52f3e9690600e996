"""Config loading: the packaged files parse, and mistakes name the key at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from simulator.config import (
    DEFAULT_CONFIG,
    NO_MARKETING_EFFECTS_CONFIG,
    ConfigError,
    SimulatorConfig,
    load_config,
    parse_config,
)


def _default_data() -> dict[str, object]:
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_packaged_configs_load() -> None:
    assert load_config() == load_config(DEFAULT_CONFIG)
    assert load_config(NO_MARKETING_EFFECTS_CONFIG) != load_config()


def test_no_marketing_effects_differs_from_default_only_in_marketing_effects(
    default_config: SimulatorConfig,
) -> None:
    null = load_config(NO_MARKETING_EFFECTS_CONFIG)
    marketing = null.marketing
    assert marketing.discount_effect_per_10pct == 0
    assert all(c.return_effect == 0 for c in marketing.channels.values())
    assert all(c.return_uplift == 0 for c in marketing.campaigns)
    zeroed = default_config.model_copy(
        update={
            "marketing": default_config.marketing.model_copy(
                update={
                    "discount_effect_per_10pct": 0.0,
                    "channels": {
                        name: channel.model_copy(update={"return_effect": 0.0})
                        for name, channel in default_config.marketing.channels.items()
                    },
                    "campaigns": [
                        campaign.model_copy(update={"return_uplift": 0.0})
                        for campaign in default_config.marketing.campaigns
                    ],
                }
            )
        }
    )
    assert zeroed == null


def test_default_config_plants_marketing_effects(default_config: SimulatorConfig) -> None:
    channels = default_config.marketing.channels
    assert channels["paid_social"].return_effect > channels["email"].return_effect
    assert channels["influencer"].return_effect > channels["email"].return_effect
    assert any(c.return_uplift > 0 for c in default_config.marketing.campaigns)


def test_unknown_key_is_named(write_config: Callable[[str], Path]) -> None:
    data = _default_data()
    returns = data["returns"]
    assert isinstance(returns, dict)
    returns["serial_returner_efect"] = returns.pop("serial_returner_effect")
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(yaml.safe_dump(data)))
    message = str(caught.value)
    assert "key 'returns.serial_returner_efect': unknown key" in message
    assert "key 'returns.serial_returner_effect': required key is missing" in message
    assert message.index("serial_returner_efect") < message.index("serial_returner_effect")


def test_unknown_mapping_key_lists_what_is_expected() -> None:
    data = _default_data()
    channels = data["marketing"]["channels"]  # type: ignore[index]
    channels["emial"] = channels.pop("email")
    with pytest.raises(ConfigError, match=r"key 'marketing\.channels\.emial': unknown key; "):
        parse_config(data, Path("typo.yaml"))


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("categories", "apparel", "share"), "lots", "categories.apparel.share"),
        (("customers", "staff_share"), 1.5, "customers.staff_share"),
        (("returns", "receive_delay_days"), [10, 2], "low <= high"),
        (("tiers", "spend_thresholds", "gold"), 5000, "silver < gold < vip"),
        (("seasonality", "gift", "start"), "13-01", "seasonality.gift.start"),
        (("orders", "basket_size_weights"), [0, 0], "basket_size_weights"),
    ],
)
def test_bad_values_are_reported_with_their_key(
    path: tuple[str, ...], value: object, expected: str
) -> None:
    data = _default_data()
    node = data
    for part in path[:-1]:
        node = node[part]  # type: ignore[assignment]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("bad.yaml"))
    assert expected in str(caught.value)
    assert str(caught.value).startswith("bad.yaml: invalid simulator config")


def test_campaign_on_a_channel_without_settings_is_rejected() -> None:
    data = _default_data()
    del data["marketing"]["channels"]["display"]  # type: ignore[index]
    with pytest.raises(ConfigError, match="no entry in marketing.channels: \\['display'\\]"):
        parse_config(data, Path("bad.yaml"))


def test_duplicate_campaign_ids_are_rejected() -> None:
    data = _default_data()
    campaigns = data["marketing"]["campaigns"]  # type: ignore[index]
    campaigns.append(dict(campaigns[0]))
    with pytest.raises(ConfigError, match="repeated: \\['email-newsletter'\\]"):
        parse_config(data, Path("bad.yaml"))


def test_unreadable_or_malformed_files_give_config_errors(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write_config("returns: [unclosed"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write_config("- just a list"))
    with pytest.raises(ConfigError, match="every key is required"):
        load_config(write_config("returns: {base_log_odds: -2}"))
