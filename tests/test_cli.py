"""The command line: help documents the settings, migrate works, worker explains what it needs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from rolecall.cli import main
from rolecall.config import load_settings


def test_serve_help_documents_settings() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for text in ("--host", "--port", "--data-dir", "ROLECALL_DATABASE_URL (or DATABASE_URL)", "REDIS_URL", "ROLECALL_NETWORK__ALLOW_PRIVATE"):
        assert text in result.output


def test_serve_help_lists_one_setting_per_line_with_its_meaning_below() -> None:
    lines = CliRunner().invoke(main, ["serve", "--help"], terminal_width=100).output.splitlines()
    names = [line for line in lines if line.strip().startswith("ROLECALL_")]
    assert len(names) >= 10
    for name in names:
        assert name.count("ROLECALL_") == 1, name  # one setting per line
        meaning = lines[lines.index(name) + 1]
        indent = len(name) - len(name.lstrip())
        assert meaning.strip() and len(meaning) - len(meaning.lstrip()) > indent, (name, meaning)  # indented below
        assert "ROLECALL_" not in meaning
    assert all(len(line) <= 110 for line in lines)


def test_migrate_creates_the_embedded_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["migrate", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "database is at revision" in result.output
    assert (tmp_path / "rolecall.db").exists()


def test_worker_without_redis_says_what_it_needs(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["worker", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "needs REDIS_URL" in result.output


def test_settings_from_toml_env_and_flags(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "rolecall.toml"
    config.write_text('port = 9001\nlog_level = "DEBUG"\n[network]\nallow_private = ["192.168.1.0/24"]\n')
    monkeypatch.setenv("ROLECALL_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/rc")
    settings = load_settings(config, data_dir=str(tmp_path), port=None)
    assert settings.port == 9001  # from the file
    assert settings.log_level == "WARNING"  # the environment wins over the file
    assert settings.network.allow_private == ["192.168.1.0/24"]
    assert settings.effective_database_url == "postgresql+asyncpg://u@db.example/rc"
    assert load_settings(config, port=9100).port == 9100  # a flag wins over everything


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["migrate", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code != 0
    assert "Config file not found" in result.output


def test_embedded_default_uses_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'rolecall.db'}"
    assert settings.run_embedded_worker
    assert not load_settings(data_dir=str(tmp_path), redis_url="redis://127.0.0.1:6379/0").run_embedded_worker
