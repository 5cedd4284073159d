"""Advanced options: custom headers, body params, provider fields, keys, connect()."""

from __future__ import annotations

import pickle

import pytest

from rolecall.providers import OptionsError, connect, form_fields, get
from rolecall.providers.options import (
    check_body,
    check_headers,
    check_key,
    check_model_id,
    check_values,
    merge_body,
    merge_headers,
    parse_body_params,
    parse_headers,
)

KEY = "sk-proj-abcdefghijklmnop1234"


# --- headers ---------------------------------------------------------------------------------

def test_headers_from_lines() -> None:
    text = "x-proxy-secret: s3cr3t value\n\n# a comment\nX-Trace:  42  \n"
    assert parse_headers(text) == {"x-proxy-secret": "s3cr3t value", "X-Trace": "42"}


def test_headers_from_json() -> None:
    assert parse_headers('{"x-proxy-secret": "abc", "X-Num": 5}') == {"x-proxy-secret": "abc", "X-Num": "5"}


def test_value_may_contain_colons() -> None:
    assert parse_headers("x-url: https://a.example:8443/x") == {"x-url": "https://a.example:8443/x"}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("x-ok: 1\nAuthorization: Bearer evil", 2, "Authorization"),
        ("x-ok: 1\nx-api-key: k", 2, "x-api-key"),
        ("api-key: k", 1, "api-key"),
        ("HOST: internal.svc", 1, "HOST"),
        ("Content-Length: 0", 1, "Content-Length"),
        ("transfer-encoding: chunked", 1, "transfer-encoding"),
        ("x-goog-api-key: k", 1, "x-goog-api-key"),
        ("OpenAI-Organization: org-1", 1, "OpenAI-Organization"),
        ("no colon here", 1, "key: value"),
        ("bad name: v", 1, "bad name"),
        ("x-a: 1\nx-a: 2", 2, "twice"),
        ("x-uni: héllo", 1, "non-ASCII"),
    ],
)
def test_bad_header_lines_name_the_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_headers(text)
    assert caught.value.field == "headers"
    assert caught.value.line == line
    assert f"line {line}" in str(caught.value)
    assert needle in str(caught.value)


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b", "a\rb"])
def test_crlf_in_json_header_values_is_refused_without_echoing_the_value(value: str) -> None:
    with pytest.raises(OptionsError) as caught:
        check_headers({"x-proxy-secret": value})
    assert "x-proxy-secret" in str(caught.value)
    assert value not in str(caught.value)


def test_header_errors_never_echo_the_value() -> None:
    with pytest.raises(OptionsError) as caught:
        parse_headers("x-secret: hunter2-ü")
    assert "hunter2" not in str(caught.value)


def test_reserved_header_names_ignore_case_and_spaces() -> None:
    with pytest.raises(OptionsError):
        parse_headers("  AUTHORIZATION  : Bearer x")


@pytest.mark.parametrize(("line", "advice"), [
    ("Host: other.example", "change the Base URL instead"),
    ("x-api-key: abc", "put the key in the API Key field instead"),
    ("OpenAI-Organization: org-1", "Organization ID field"),
    ("Content-Length: 5", "the HTTP client sets it"),
])
def test_reserved_headers_say_what_to_do_instead(line: str, advice: str) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_headers(line)
    assert advice in str(caught.value)
    if not line.startswith(("x-api-key", "OpenAI")):
        assert "API key or Organization ID" not in str(caught.value)


def test_non_object_json_is_refused() -> None:
    with pytest.raises(OptionsError):
        parse_headers('{"a": }')
    with pytest.raises(OptionsError):
        parse_headers('{"a": {"nested": 1}}')


def test_too_many_headers() -> None:
    with pytest.raises(OptionsError):
        parse_headers("\n".join(f"x-h{i}: v" for i in range(40)))


def test_empty_text_means_no_headers() -> None:
    assert parse_headers("  \n ") == {}
    assert parse_body_params("") == {}


# --- body ------------------------------------------------------------------------------------

def test_body_lines_parse_json_scalars() -> None:
    text = "min_p: 0.1\ntop_k: 50\nrepetition_penalty: 1.1\nstop: [\"\\n\"]\nflag: true\nname: free text"
    assert parse_body_params(text) == {
        "min_p": 0.1, "top_k": 50, "repetition_penalty": 1.1, "stop": ["\n"], "flag": True, "name": "free text",
    }


def test_body_from_json() -> None:
    assert parse_body_params('{"min_p": 0.1, "provider": {"order": ["a"]}}') == {"min_p": 0.1, "provider": {"order": ["a"]}}


@pytest.mark.parametrize("name", ["model", "messages", "stream", "Stream", "stream_options", "contents", "prompt", "system", "input"])
def test_reserved_body_params_name_the_line(name: str) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_body_params(f"min_p: 0.1\n{name}: x")
    assert caught.value.line == 2 and name in str(caught.value)


@pytest.mark.parametrize("text", ["min_p: 0.1\nweird: NaN", "min_p: 0.1\nweird: [1, -Infinity]",
                                  '{"min_p": 0.1, "weird": {"x": Infinity}}'])
def test_body_params_refuse_numbers_json_has_not(text: str) -> None:
    # Python's JSON reader takes NaN and Infinity; a provider's would not, and the request body is JSON.
    with pytest.raises(OptionsError) as caught:
        parse_body_params(text)
    assert "weird" in str(caught.value) and "NaN and Infinity" in str(caught.value)
    assert caught.value.line == (2 if text.startswith("min_p") else None)
    with pytest.raises(OptionsError):
        check_body({"weird": float("nan")})


def test_reserved_body_params_in_json() -> None:
    with pytest.raises(OptionsError) as caught:
        parse_body_params('{"stream": false, "stream": true}')
    assert "stream" in str(caught.value)


def test_body_depth_and_size_caps() -> None:
    deep: object = 1
    for _ in range(8):
        deep = {"a": deep}
    with pytest.raises(OptionsError):
        check_body({"deep": deep})
    with pytest.raises(OptionsError):
        check_body({"big": "x" * 20000})


def test_merge_body_never_touches_reserved_names() -> None:
    base = {"model": "m", "messages": [], "stream": True, "temperature": 1.0}
    merged = merge_body(base, {"temperature": 0.2, "min_p": 0.1}, {"stream": False, "model": "evil"})
    assert merged == {"model": "m", "messages": [], "stream": True, "temperature": 0.2, "min_p": 0.1}


def test_merge_headers_ours_always_win() -> None:
    merged = merge_headers({"X-Proxy": "1", "authorization": "evil", "Accept": "x"}, {"accept": "application/json"}, {"Authorization": "Bearer k"})
    assert merged == {"X-Proxy": "1", "accept": "application/json", "Authorization": "Bearer k"}


# --- fields, keys, model ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"resource_name": "evil.com#", "deployment_id": "d"}, "resource_name"),
        ({"resource_name": "a.evil.com/", "deployment_id": "d"}, "resource_name"),
        ({"resource_name": "x@y", "deployment_id": "d"}, "resource_name"),
        ({"resource_name": "ok-name", "deployment_id": "../x"}, "deployment_id"),
        ({"resource_name": "ok-name", "deployment_id": "d", "api_version": "latest?x=1"}, "api_version"),
        ({"deployment_id": "d"}, "resource_name"),
        ({"resource_name": "ok", "deployment_id": "d", "colour": "red"}, "colour"),
    ],
)
def test_azure_fields_refuse_host_injection(values: dict[str, str], field: str) -> None:
    with pytest.raises(OptionsError) as caught:
        check_values(get("azure_openai"), values)
    assert caught.value.field == field


def test_azure_defaults_the_api_version() -> None:
    values = check_values(get("azure_openai"), {"resource_name": "my-res", "deployment_id": "gpt4o"})
    assert values == {"resource_name": "my-res", "deployment_id": "gpt4o", "api_version": "2024-10-21"}


@pytest.mark.parametrize("region", ["x.evil.com/?", "us-central1.evil", "US-CENTRAL1", "..", "ünïcode"])
def test_vertex_region_injection(region: str) -> None:
    with pytest.raises(OptionsError):
        check_values(get("vertex"), {"region": region})


def test_key_is_trimmed_and_checked() -> None:
    assert check_key(f"  {KEY}\n", get("openai")) == KEY
    for bad in (f"{KEY} x", f"{KEY}\x00", "sk-ünïcode", "x" * 5000):
        with pytest.raises(OptionsError) as caught:
            check_key(bad, get("openai"))
        assert KEY not in str(caught.value)


def test_model_id() -> None:
    assert check_model_id("  qwen2.5-coder:32b ") == "qwen2.5-coder:32b"
    assert check_model_id("") is None and check_model_id(None) is None
    with pytest.raises(OptionsError):
        check_model_id("a\nb")


# --- connect() ---------------------------------------------------------------------------------

def test_connect_resolves_endpoint_types_and_templates() -> None:
    assert connect("nanogpt", api_key=KEY).base_url == "https://nano-gpt.com/api/v1"
    assert connect("nanogpt", api_key=KEY, endpoint_type="subscription").base_url == "https://nano-gpt.com/api/subscription/v1"
    assert connect("zai", api_key=KEY, endpoint_type="coding").base_url == "https://api.z.ai/api/coding/paas/v4"
    azure = connect("azure_openai", api_key="0123456789abcdef0123456789abcdef",
                    values={"resource_name": "my-res", "deployment_id": "gpt4o"})
    assert azure.base_url == "https://my-res.openai.azure.com/openai"
    with pytest.raises(OptionsError) as caught:
        connect("zai", api_key=KEY, endpoint_type="premium")
    assert caught.value.field == "endpoint_type"


def test_connect_custom_base_url_is_validated() -> None:
    conn = connect("openai", api_key=KEY, base_url="https://proxy.example.com/v1/")
    assert conn.base_url == "https://proxy.example.com/v1" and conn.custom_base
    for bad in ("ftp://x", "https://user:pass@evil.example", "https://a.example/#frag", "https://a.example/?q=1"):
        with pytest.raises(OptionsError) as caught:
            connect("openai", api_key=KEY, base_url=bad)
        assert caught.value.field == "base_url"


def test_custom_endpoint_needs_a_base_url_but_no_key() -> None:
    with pytest.raises(OptionsError) as caught:
        connect("custom_openai")
    assert caught.value.field == "base_url"
    conn = connect("custom_openai", base_url="https://my-llm.example.com")
    assert conn.api_key is None


def test_required_key_is_required() -> None:
    with pytest.raises(OptionsError) as caught:
        connect("openai", api_key="   ")
    assert caught.value.field == "api_key"
    assert connect("pollinations").api_key is None


def test_unknown_provider_raises() -> None:
    with pytest.raises(KeyError):
        connect("no-such-provider", api_key=KEY)


class _Secret:
    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('[secret]')"


def test_connection_keeps_a_secret_wrapper_and_reveals_only_on_demand() -> None:
    secret = _Secret(KEY)
    conn = connect("openai", api_key=secret)
    assert conn.api_key is secret and conn.key() == KEY


def test_connection_repr_str_and_pickle_never_show_the_key() -> None:
    conn = connect("openai", api_key=KEY, headers={"x-proxy-secret": "proxy-secret-value"},
                   values={"organization": "org-123"}, body={"min_p": 0.1})
    for text in (repr(conn), str(conn), f"{conn}", f"{conn!r}"):
        assert KEY not in text and "proxy-secret-value" not in text
        assert "…1234" in text
    with pytest.raises(TypeError):
        pickle.dumps(conn)


def test_form_fields_follow_the_guide() -> None:
    openai = [f.name for f in form_fields(get("openai"))]
    assert openai == ["api_key", "base_url", "organization", "headers", "body", "model"]
    nanogpt = {f.name: f for f in form_fields(get("nanogpt"))}
    assert nanogpt["endpoint_type"].choices == (("paygo", "Pay-per-use"), ("subscription", "Subscription"))
    zai = {f.name: f for f in form_fields(get("zai"))}
    assert [label for _, label in zai["endpoint_type"].choices] == ["Common", "Coding"]
    azure = [f.name for f in form_fields(get("azure_openai")) if f.level == "required"]
    assert azure == ["api_key", "resource_name", "deployment_id", "api_version"]
    vertex = {f.name: f for f in form_fields(get("vertex"))}
    assert vertex["api_key"].label == "Service Account JSON" and vertex["region"].level == "required"
    assert "api_key" not in [f.name for f in form_fields(get("pollinations")) if f.level == "required"]
    custom = {f.name: f for f in form_fields(get("custom_openai"))}
    assert custom["base_url"].level == "required"
    assert all(f.name != "organization" for f in form_fields(get("anthropic")))


@pytest.mark.parametrize("name", ["Content-Type", "accept", "Anthropic-Version"])
def test_headers_the_app_sets_for_its_wire_format_are_refused(name: str) -> None:
    from rolecall.providers.options import OptionsError, parse_headers

    with pytest.raises(OptionsError) as caught:
        parse_headers(f"{name}: text/plain")
    assert caught.value.field == "headers" and name in str(caught.value) and "replaced" in str(caught.value)
    assert parse_headers("anthropic-beta: prompt-caching-2024-07-31") == {"anthropic-beta": "prompt-caching-2024-07-31"}
