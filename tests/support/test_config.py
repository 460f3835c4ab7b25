"""Configuration layering: behave userdata over GOLDEN_PATH_* variables over defaults, and
one clear line for a bad or incomplete setting."""

from __future__ import annotations

import pytest

from support.config import ConfigError, SuiteConfig, redact

SECRET = "s" * 40


def test_defaults_are_embedded_with_a_fresh_secret() -> None:
    config = SuiteConfig.load({}, {})
    assert config.backends == "embedded"
    assert config.timeout == 5.0
    assert config.jwt_issuer == "golden-path"
    assert config.jwt_audience == "golden-path-chat"
    assert config.gateway_url is None and config.database_url is None
    assert len(config.jwt_secret) >= 32
    assert SuiteConfig.load({}, {}).jwt_secret != config.jwt_secret
    assert config.sources["timeout"] == "default"


def test_environment_overrides_defaults_and_userdata_overrides_environment() -> None:
    env = {"GOLDEN_PATH_TIMEOUT": "7", "GOLDEN_PATH_JWT_ISSUER": "env-issuer"}
    from_env = SuiteConfig.load({}, env)
    assert from_env.timeout == 7.0 and from_env.jwt_issuer == "env-issuer"
    assert from_env.sources["timeout"] == "environment"
    both = SuiteConfig.load({"timeout": "2.5"}, env)
    assert both.timeout == 2.5 and both.jwt_issuer == "env-issuer"
    assert both.sources["timeout"] == "userdata"


def test_the_leeway_is_the_contracts_default_unless_told() -> None:
    assert SuiteConfig.load({}, {}).jwt_leeway == 5
    assert SuiteConfig.load({}, {"GOLDEN_PATH_JWT_LEEWAY": "30"}).jwt_leeway == 30
    assert SuiteConfig.load({"jwt_leeway": "0"}, {}).jwt_leeway == 0


def test_empty_values_fall_through_to_the_next_layer() -> None:
    config = SuiteConfig.load({"timeout": ""}, {"GOLDEN_PATH_TIMEOUT": "  "})
    assert config.timeout == 5.0


def test_naming_services_without_a_mode_means_real() -> None:
    env = {
        "GOLDEN_PATH_DATABASE_URL": "postgresql+asyncpg://gp@127.0.0.1:5432/gp",
        "GOLDEN_PATH_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    assert SuiteConfig.load({}, env).backends == "real"
    assert SuiteConfig.load({"backends": "embedded"}, env).backends == "embedded"
    assert SuiteConfig.load({"backends": "AUTO"}, env).backends == "auto"


def test_real_needs_both_urls_and_says_how_to_get_them() -> None:
    with pytest.raises(ConfigError) as refused:
        SuiteConfig.load({"backends": "real"}, {"GOLDEN_PATH_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert "database_url (GOLDEN_PATH_DATABASE_URL)" in str(refused.value)
    assert "python -m tools.services up" in str(refused.value)


def test_auto_may_go_without_urls() -> None:
    assert SuiteConfig.load({"backends": "auto"}, {}).backends == "auto"


@pytest.mark.parametrize(
    ("userdata", "says"),
    [
        ({"backends": "docker"}, "backends='docker' (-D backends) is not one of"),
        ({"timeout": "soon"}, "timeout='soon' (-D timeout) is not a number"),
        ({"timeout": "0"}, "must be between 0 and 600"),
        ({"jwt_leeway": "31"}, ("jwt_leeway='31' (-D jwt_leeway) must be a whole number of "
                                "seconds from 0 to 30")),
        ({"jwt_leeway": "2.5"}, "jwt_leeway='2.5' (-D jwt_leeway) must be a whole number"),
        ({"database_url": "mysql://x/y", "redis_url": "redis://h/0"}, "database_url (-D database_url) must be"),
        ({"redis_url": "http://h", "database_url": "sqlite+aiosqlite:///x"}, "redis_url (-D redis_url) must be"),
        ({"jwt_secret": "short"}, "jwt_secret (-D jwt_secret) is 5 bytes"),
        ({"gateway_url": "ws://127.0.0.1:1/ws"}, "with gateway_url the suite needs the same"),
        ({"gateway_url": "ws://h:1/ws", "backends": "embedded"}, "cannot share embedded storage"),
    ],
)
def test_bad_settings_are_one_clear_line(userdata: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        SuiteConfig.load(userdata, {})
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_an_external_gateway_with_its_settings() -> None:
    config = SuiteConfig.load(
        {"gateway_url": "ws://127.0.0.1:8765/ws"},
        {
            "GOLDEN_PATH_DATABASE_URL": "postgresql+asyncpg://gp@127.0.0.1:5432/gp",
            "GOLDEN_PATH_REDIS_URL": "redis://127.0.0.1:6379/0",
            "GOLDEN_PATH_JWT_SECRET": SECRET,
        },
    )
    assert config.external_gateway and config.backends == "real"
    assert config.jwt_secret == SECRET


def test_passwords_never_reach_the_console() -> None:
    assert redact("postgresql+asyncpg://gp:hunter2@db:5432/gp") == "postgresql+asyncpg://gp:***@db:5432/gp"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_services_file_provides_the_urls_it_holds(tmp_path) -> None:
    services = tmp_path / "services.json"
    services.write_text(
        '{"database_url": "postgresql+asyncpg://g:pw@127.0.0.1:5432/gp",'
        ' "redis_url": "redis://127.0.0.1:6379/0"}'
    )
    config = SuiteConfig.load({"services": str(services)}, environ={})
    assert config.backends == "real"
    assert config.database_url == "postgresql+asyncpg://g:pw@127.0.0.1:5432/gp"
    assert config.sources["redis_url"] == "services"
    explicit = SuiteConfig.load(
        {"services": str(services), "redis_url": "redis://127.0.0.1:7000/0"}, environ={}
    )
    assert explicit.redis_url == "redis://127.0.0.1:7000/0"


def test_a_missing_services_file_says_how_to_make_one(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"python -m tools.services up"):
        SuiteConfig.load({"services": str(tmp_path / "absent.json")}, environ={})
