import base64
import os
import stat

import pytest

from config.secret_keys import KEY_FILE, SecretsKeyMissing, load_keys, new_key_text, parse_key


def test_keys_are_base64_of_32_bytes_and_errors_never_show_them():
    assert len(parse_key(new_key_text())) == 32
    short = base64.b64encode(b"x" * 16).decode()
    for bad in ("not base64!", short):
        with pytest.raises(ValueError) as refused:
            parse_key(bad)
        assert bad not in str(refused.value)


def test_the_first_key_listed_comes_first(tmp_path):
    first, second = new_key_text(), new_key_text()
    assert load_keys(f"{first}, {second}", None, tmp_path, production=True) == [
        parse_key(first),
        parse_key(second),
    ]
    listed = tmp_path / "keys"
    listed.write_text(f"# newest first\n{second}\n{first}\n")
    assert load_keys(None, listed, tmp_path, production=True) == [parse_key(second), parse_key(first)]


def test_development_makes_one_key_once_readable_by_its_owner_only(tmp_path):
    made = load_keys(None, None, tmp_path / "data", production=False)
    again = load_keys(None, None, tmp_path / "data", production=False)
    assert made == again and len(made) == 1
    assert stat.S_IMODE(os.stat(tmp_path / "data" / KEY_FILE).st_mode) == 0o600


def test_production_without_a_key_says_what_to_set(tmp_path):
    with pytest.raises(SecretsKeyMissing) as refused:
        load_keys(None, None, tmp_path, production=True)
    assert "SECRETS_KEY" in str(refused.value)
    assert not (tmp_path / KEY_FILE).exists()
