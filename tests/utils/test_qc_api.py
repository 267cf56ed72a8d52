"""The QuantConnect API client: signing, credentials, errors, and never showing the token."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path

import pytest

from tests.fake_qc_api import FakeQuantConnect, FakeServer, in_process_transport, make_node
from tests.fake_qc_api.lean_cli_setup import write_credentials
from utils.qc_api import (
    DEFAULT_API_URL,
    LOCAL_API_URL,
    ApiAuthenticationError,
    ApiConnectionError,
    ApiError,
    Credentials,
    CredentialsError,
    HttpRequest,
    HttpResponse,
    QuantConnectAPI,
    api_base_url,
    load_credentials,
)

TOKEN = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # noqa: S105 - test data
USER = "123456"
NOW = 1_764_500_000.0


@pytest.fixture
def fake() -> FakeQuantConnect:
    return FakeQuantConnect(user_id=USER, api_token=TOKEN, clock=lambda: NOW)


def client(
    fake: FakeQuantConnect, *, token: str = TOKEN, clock_offset: float = 0
) -> QuantConnectAPI:
    credentials = Credentials(user_id=USER, api_token=token, source="test")
    return QuantConnectAPI(
        credentials,
        base_url=LOCAL_API_URL,
        transport=in_process_transport(fake),
        clock=lambda: NOW + clock_offset,
    )


# ---------------------------------------------------------------------------- base URL


@pytest.mark.parametrize(
    ("qc_api", "expected"),
    [
        ("local", "http://localhost:5612/api/v2/"),
        ("beta", "https://beta.quantconnect.com/api/v2/"),
        ("", DEFAULT_API_URL),
        ("anything-else", DEFAULT_API_URL),
    ],
)
def test_base_url_follows_qc_api_as_the_lean_cli_does(qc_api: str, expected: str) -> None:
    assert api_base_url({"QC_API": qc_api}) == expected


def test_base_url_defaults_to_quantconnect_without_qc_api() -> None:
    assert api_base_url({}) == "https://www.quantconnect.com/api/v2/"


# ---------------------------------------------------------------------------- credentials


def test_credentials_come_from_the_lean_cli_file(tmp_path: Path) -> None:
    write_credentials(tmp_path, user_id=USER, api_token=TOKEN)

    credentials = load_credentials({}, tmp_path)

    assert credentials.user_id == USER
    assert credentials.api_token == TOKEN
    assert credentials.source == str(tmp_path / ".lean" / "credentials")


def test_environment_credentials_win_over_the_file(tmp_path: Path) -> None:
    write_credentials(tmp_path, user_id="999", api_token="a" * 64)
    env = {"QUANTCONNECT_USER_ID": USER, "QUANTCONNECT_API_TOKEN": TOKEN}

    credentials = load_credentials(env, tmp_path)

    assert (credentials.user_id, credentials.api_token) == (USER, TOKEN)
    assert "QUANTCONNECT_USER_ID" in credentials.source


def test_one_environment_variable_without_the_other_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="QUANTCONNECT_API_TOKEN is not"):
        load_credentials({"QUANTCONNECT_USER_ID": USER}, tmp_path)


def test_missing_credentials_say_how_to_log_in(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as caught:
        load_credentials({}, tmp_path)

    message = str(caught.value)
    assert "lean login" in message
    assert "QUANTCONNECT_USER_ID" in message
    assert str(tmp_path / ".lean" / "credentials") in message
    assert caught.value.exit_code == 2


def test_an_unreadable_credentials_file_is_reported_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / ".lean" / "credentials"
    path.parent.mkdir()
    path.write_text(f'{{"user-id": "{USER}", "api-token": "{TOKEN}"')  # truncated JSON

    with pytest.raises(CredentialsError) as caught:
        load_credentials({}, tmp_path)

    assert "not valid JSON" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_a_credentials_file_without_a_token_names_the_missing_key(tmp_path: Path) -> None:
    path = tmp_path / ".lean" / "credentials"
    path.parent.mkdir()
    path.write_text(json.dumps({"user-id": USER}))

    with pytest.raises(CredentialsError, match="api-token missing"):
        load_credentials({}, tmp_path)


def test_a_user_id_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    env = {"QUANTCONNECT_USER_ID": "me@example.com", "QUANTCONNECT_API_TOKEN": TOKEN}

    with pytest.raises(CredentialsError, match="must be the number"):
        load_credentials(env, tmp_path)


def test_credentials_never_show_the_token() -> None:
    credentials = Credentials(user_id=USER, api_token=TOKEN, source="test")

    assert TOKEN not in repr(credentials)
    assert TOKEN not in str(credentials)
    assert TOKEN not in f"{credentials}"
    assert "<redacted>" in repr(credentials)


def test_the_client_repr_never_shows_the_token(fake: FakeQuantConnect) -> None:
    assert TOKEN not in repr(client(fake))


# ---------------------------------------------------------------------------- signing


def test_requests_are_signed_with_the_timestamped_token_hash() -> None:
    seen: list[HttpRequest] = []

    def transport(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(200, b'{"success": true, "errors": []}')

    credentials = Credentials(user_id=USER, api_token=TOKEN)
    api = QuantConnectAPI(
        credentials, base_url=LOCAL_API_URL, transport=transport, clock=lambda: NOW
    )

    api.authenticate()

    headers = seen[0].headers
    expected_hash = hashlib.sha256(f"{TOKEN}:{int(NOW)}".encode()).hexdigest()
    assert headers["Timestamp"] == str(int(NOW))
    assert (
        headers["Authorization"]
        == "Basic " + base64.b64encode(f"{USER}:{expected_hash}".encode()).decode()
    )
    assert seen[0].url == LOCAL_API_URL + "authenticate"
    assert TOKEN not in repr(seen[0])


def test_the_fake_service_accepts_the_clients_signature(fake: FakeQuantConnect) -> None:
    client(fake).authenticate()

    assert fake.requests[0].authenticated


def test_a_wrong_token_is_an_authentication_error_naming_user_and_source(
    fake: FakeQuantConnect,
) -> None:
    wrong = "0" * 64

    with pytest.raises(ApiAuthenticationError) as caught:
        client(fake, token=wrong).read_nodes(fake.organization_id)

    message = str(caught.value)
    assert "rejected the credentials of user 123456 (test)" in message
    assert "HTTP 401" in message
    assert wrong not in message
    assert caught.value.status == 401


def test_a_clock_three_hours_off_is_rejected_and_the_message_mentions_the_clock(
    fake: FakeQuantConnect,
) -> None:
    with pytest.raises(ApiAuthenticationError, match="clock"):
        client(fake, clock_offset=-3 * 3600).authenticate()


# ---------------------------------------------------------------------------- errors


def test_a_server_error_is_retried_once(fake: FakeQuantConnect) -> None:
    fake.fail("nodes/read", 500, times=1)

    nodes = client(fake).read_nodes(fake.organization_id)

    assert [r.status for r in fake.requests_to("nodes/read")] == [500, 200]
    assert nodes.live


def test_a_server_error_twice_is_reported_with_its_status(fake: FakeQuantConnect) -> None:
    fake.fail("nodes/read", 500, errors=["Internal error"])

    with pytest.raises(ApiError) as caught:
        client(fake).read_nodes(fake.organization_id)

    assert caught.value.status == 500
    assert "nodes/read failed twice with HTTP 500: Internal error" in str(caught.value)
    assert len(fake.requests_to("nodes/read")) == 2


def test_success_false_is_an_error_carrying_the_services_errors(fake: FakeQuantConnect) -> None:
    with pytest.raises(ApiError, match="refused the request: Project not found"):
        client(fake).read_project_nodes(424242)


def test_an_answer_that_is_not_json_is_an_error() -> None:
    api = QuantConnectAPI(
        Credentials(user_id=USER, api_token=TOKEN),
        base_url=LOCAL_API_URL,
        transport=lambda request: HttpResponse(200, b"<html>maintenance</html>"),
    )

    with pytest.raises(ApiError, match="not JSON: '<html>maintenance"):
        api.authenticate()


def test_an_unreachable_api_is_an_error_with_the_local_hint() -> None:
    def refuse(request: HttpRequest) -> HttpResponse:
        msg = f"cannot reach the QuantConnect API at {request.url}: Connection refused"
        raise ApiConnectionError(msg, endpoint=request.url)

    api = QuantConnectAPI(
        Credentials(user_id=USER, api_token=TOKEN), base_url=LOCAL_API_URL, transport=refuse
    )

    with pytest.raises(ApiConnectionError, match=r"Connection refused.*QC_API=local"):
        api.read_nodes("org")


def test_text_from_the_service_is_scrubbed_of_the_token() -> None:
    body = json.dumps({"success": False, "errors": [f"token {TOKEN} is not valid"]}).encode()
    api = QuantConnectAPI(
        Credentials(user_id=USER, api_token=TOKEN),
        base_url=LOCAL_API_URL,
        transport=lambda request: HttpResponse(200, body),
    )

    with pytest.raises(ApiError) as caught:
        api.authenticate()

    assert TOKEN not in str(caught.value)
    assert "<redacted>" in str(caught.value)


def test_debug_logging_never_contains_the_token_or_signature(
    fake: FakeQuantConnect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="utils.qc_api")

    client(fake).read_nodes(fake.organization_id)

    signature = hashlib.sha256(f"{TOKEN}:{int(NOW)}".encode()).hexdigest()
    assert "nodes/read" in caplog.text
    assert TOKEN not in caplog.text
    assert signature not in caplog.text


# ---------------------------------------------------------------------------- endpoints


def test_read_nodes_returns_every_field_of_each_family(fake: FakeQuantConnect) -> None:
    nodes = client(fake).read_nodes(fake.organization_id)

    live = {n.sku: n for n in nodes.live}
    l24 = live["L2-4"]
    assert (l24.id, l24.cores, l24.ram_gb, l24.monthly_price, l24.busy) == (
        fake.node("L2-4").id,
        2,
        4.0,
        50.0,
        False,
    )
    assert live["L1-2"].busy
    assert live["L1-2"].used_by == "someone@example.com"
    assert {n.sku for n in nodes.backtest} == {"B-MICRO", "B8-16"}
    assert [n.sku for n in nodes.research] == ["R8-16"]


def test_update_project_nodes_pins_the_node_and_reads_it_back(fake: FakeQuantConnect) -> None:
    api = client(fake)
    project_id = fake.create_project("P")
    backtest_node = fake.node("B8-16").id

    nodes = api.update_project_nodes(project_id, [backtest_node])

    assert [n.id for n in nodes.all() if n.active] == [backtest_node]
    assert fake.requests_to("projects/nodes/update")[0].params == {
        "projectId": project_id,
        "nodes": [backtest_node],
    }
    assert api.read_project_nodes(project_id).auto_select is False


def test_update_project_nodes_fails_when_the_answer_does_not_show_the_pin(
    fake: FakeQuantConnect,
) -> None:
    project_id = fake.create_project("P")
    inner = in_process_transport(fake)

    def drop_active_flags(request: HttpRequest) -> HttpResponse:
        response = inner(request)
        data = json.loads(response.body)
        for family in data.get("nodes", {}).values():
            for node in family:
                node["active"] = False
        return HttpResponse(response.status, json.dumps(data).encode())

    api = QuantConnectAPI(
        Credentials(user_id=USER, api_token=TOKEN), base_url=LOCAL_API_URL,
        transport=drop_active_flags, clock=lambda: NOW,
    )  # fmt: skip

    with pytest.raises(ApiError, match=r"does not show node .* as active"):
        api.update_project_nodes(project_id, [fake.node("B8-16").id])


def test_preferred_organization_comes_from_account_read(fake: FakeQuantConnect) -> None:
    assert client(fake).preferred_organization_id() == fake.organization_id


def test_a_node_without_an_id_is_an_error(fake: FakeQuantConnect) -> None:
    fake.nodes.append(make_node("L1-1"))
    fake.nodes[-1].id = ""

    with pytest.raises(ApiError, match="live node without an id"):
        client(fake).read_nodes(fake.organization_id)


# ---------------------------------------------------------------------------- real HTTP


@pytest.mark.integration
def test_the_client_talks_to_the_fake_over_real_http() -> None:
    fake = FakeQuantConnect(user_id=USER, api_token=TOKEN)
    with FakeServer(fake) as server:
        api = QuantConnectAPI(Credentials(user_id=USER, api_token=TOKEN), base_url=server.base_url)

        nodes = api.read_nodes(fake.organization_id)

    assert {n.sku for n in nodes.live} == {"L2-4", "L1-2"}
    assert fake.requests[0].encoding == "json"
    assert fake.requests[0].authenticated


@pytest.mark.integration
def test_a_closed_port_is_a_connection_error_not_a_traceback() -> None:
    fake = FakeQuantConnect(user_id=USER, api_token=TOKEN)
    with FakeServer(fake) as server:
        url = server.base_url  # the port is free again once the server is closed
    api = QuantConnectAPI(Credentials(user_id=USER, api_token=TOKEN), base_url=url, timeout=5)

    with pytest.raises(ApiConnectionError, match="cannot reach the QuantConnect API"):
        api.authenticate()
