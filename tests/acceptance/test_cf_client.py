"""Acceptance test: a real third-party Cloud Foundry client against `ingot up`.

The client is the `cloudfoundry-client` Python package (pinned in requirements.txt), which
nobody here wrote. Everything it supports is done through it: discovering the UAA from the API
root, the password and refresh-token grants (as client `cf` with an empty secret), and the v3
organizations, spaces, users, roles and jobs endpoints. Only user creation in the UAA (SCIM),
which the package has no helper for, is plain HTTP with the admin's token.

Run it with tests/acceptance/run.sh, or directly with pytest and INGOT_BIN pointing at a binary.
"""

import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import pytest
import requests
from cloudfoundry_client.client import CloudFoundryClient
from cloudfoundry_client.errors import InvalidStatusCode
from oauth2_client.credentials_manager import OAuthError

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60
SHUTDOWN_TIMEOUT_SECONDS = 20
HTTP_TIMEOUT_SECONDS = 10

API_LINE = re.compile(r"^API endpoint:\s+(http://\S+)\s*$")
UAA_LINE = re.compile(r"^UAA endpoint:\s+(http://\S+)\s*$")

# Plain HTTP from the test itself (SCIM, raw checks) goes straight to loopback, never through a
# proxy from the environment; the package's own session does the same (trust_env=False).
plain_http = requests.Session()
plain_http.trust_env = False

# Settings that `ingot up` reads from the environment; a developer's shell must not leak into
# the server under test.
INGOT_SETTINGS_ENV = (
    "INGOT_CONFIG",
    "INGOT_DATA_DIR",
    "INGOT_API_ADDR",
    "INGOT_UAA_ADDR",
    "INGOT_API_URL",
    "INGOT_UAA_URL",
    "INGOT_BBS_ADDR",
    "INGOT_BBS_URL",
    "INGOT_REP_ADDR",
    "INGOT_REP_URL",
    "INGOT_ROUTER_ADDR",
    "INGOT_LOG_CACHE_ADDR",
    "INGOT_UAA_CLIENT_ID",
    "INGOT_UAA_CLIENT_SECRET",
    "INGOT_GARDEN_BACKEND",
)


# --------------------------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------------------------


@dataclass
class Ingot:
    process: subprocess.Popen
    data_dir: Path
    api: str = ""
    uaa: str = ""
    credentials: dict = field(default_factory=dict)
    output: list = field(default_factory=list)

    def captured_output(self) -> str:
        return "".join(self.output) or "(no output)"

    @property
    def admin_username(self) -> str:
        return self.credentials["admin_username"]

    @property
    def admin_password(self) -> str:
        return self.credentials["admin_password"]


def ingot_binary() -> str:
    binary = os.environ.get("INGOT_BIN") or str(REPO_ROOT / "target" / "debug" / "ingot")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no ingot binary at {binary}: build it (cargo build -p ingot) or set INGOT_BIN")
    return binary


def _pump(stream, sink: list, lines: "queue.Queue[str | None]") -> None:
    """Read the server's output until EOF, so its pipe never fills up."""
    for line in stream:
        sink.append(line)
        lines.put(line)
    lines.put(None)


def _answers(url: str) -> bool:
    try:
        plain_http.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False


def start_ingot(data_dir: Path, api_addr="127.0.0.1:0", uaa_addr="127.0.0.1:0", bbs_addr="127.0.0.1:0",
                router_addr="127.0.0.1:0", log_cache_addr="127.0.0.1:0", extra_args=()) -> Ingot:
    env = {k: v for k, v in os.environ.items() if k not in INGOT_SETTINGS_ENV}
    command = [
        ingot_binary(), "up",
        "--data-dir", str(data_dir),
        "--api-addr", api_addr,
        "--uaa-addr", uaa_addr,
        # Every listener on a free port, so several instances can run side by side.
        "--bbs-addr", bbs_addr,
        "--router-addr", router_addr,
        "--log-cache-addr", log_cache_addr,
        # Several instances run side by side; Linux containers have their own tests, which
        # give each instance its own bridge and subnet and clean them up.
        "--garden-backend", "process",
        *extra_args,
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env=env,
    )
    server = Ingot(process=process, data_dir=data_dir)
    lines: "queue.Queue[str | None]" = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, server.output, lines), daemon=True).start()

    def fail(why: str):
        try:
            stop_ingot(server)
        except AssertionError:
            pass  # reported below, with the output
        pytest.fail(f"`{' '.join(command)}` {why}; its output:\n{server.captured_output()}")

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not (server.api and server.uaa):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            fail(f"did not print both endpoints within {STARTUP_TIMEOUT_SECONDS} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            fail(f"closed its output (exit status {process.returncode}) during startup")
        text = line.strip()
        if m := API_LINE.match(text):
            server.api = m.group(1).rstrip("/")
        elif m := UAA_LINE.match(text):
            server.uaa = m.group(1).rstrip("/")

    credentials_file = data_dir / "credentials.json"
    while True:
        if process.poll() is not None:
            fail(f"exited with status {process.returncode} during startup")
        if credentials_file.exists() and _answers(server.api + "/") and _answers(server.uaa + "/"):
            try:
                server.credentials = json.loads(credentials_file.read_text())
                break
            except ValueError:
                pass  # still being written
        if time.monotonic() > deadline:
            fail(f"did not answer and write {credentials_file} within {STARTUP_TIMEOUT_SECONDS} s")
        time.sleep(0.2)

    missing = {"admin_username", "admin_password", "admin_client_id", "admin_client_secret"} - set(
        server.credentials
    )
    if missing:
        fail(f"wrote {credentials_file} without {sorted(missing)}: {server.credentials}")
    return server


def stop_ingot(server: Ingot) -> None:
    """SIGTERM, then wait; SIGKILL only if it does not stop (and report that)."""
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(
                f"ingot did not exit within {SHUTDOWN_TIMEOUT_SECONDS} s of SIGTERM; output:\n"
                + server.captured_output()
            )


@pytest.fixture(scope="module")
def ingot():
    data_dir = Path(tempfile.mkdtemp(prefix="ingot-acceptance-"))
    try:
        server = start_ingot(data_dir)
        try:
            yield server
        finally:
            stop_ingot(server)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def scratch_dir():
    """A temporary directory for tests that run their own `ingot up`."""
    path = Path(tempfile.mkdtemp(prefix="ingot-acceptance-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_client(ingot: Ingot, **kwargs) -> CloudFoundryClient:
    """The package's defaults, as the `cf` CLI does: client `cf` with an empty secret."""
    return CloudFoundryClient(ingot.api, **kwargs)


def login(ingot: Ingot, username: str, password: str) -> CloudFoundryClient:
    client = new_client(ingot)
    client.init_with_user_credentials(username, password)
    return client


def access_token(client: CloudFoundryClient) -> str:
    return client._access_token


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def status_of(call) -> HTTPStatus:
    """Run a client call that must fail; return the HTTP status the package raised."""
    with pytest.raises(InvalidStatusCode) as failure:
        call()
    return failure.value.status_code


def cc_error(call, status: HTTPStatus, code: int, title: str) -> dict:
    """A client call must fail with a v3 error body {"errors": [{code, title, detail}]}."""
    with pytest.raises(InvalidStatusCode) as failure:
        call()
    error = failure.value
    assert error.status_code == status, f"expected {status.value} {title}, got {error}"
    assert isinstance(error.body, dict) and error.body.get("errors"), f"not a v3 error body: {error.body!r}"
    first = error.body["errors"][0]
    assert (first.get("code"), first.get("title")) == (code, title), f"wrong error: {error.body}"
    assert first.get("detail"), f"error without detail: {error.body}"
    return first


def names(resources) -> list:
    return sorted(r["name"] for r in resources)


def create_uaa_user(ingot: Ingot, admin: CloudFoundryClient, username: str, password: str) -> str:
    """SCIM user creation, as `cf create-user` does it: POST /Users with the admin's token.

    The package has no UAA SCIM helper, so this is plain HTTP with the admin's bearer token.
    """
    response = plain_http.post(
        f"{admin.info.authorization_endpoint}/Users",
        headers={
            "Authorization": f"Bearer {access_token(admin)}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
        json={
            "userName": username,
            "password": password,
            "origin": "uaa",
            "name": {"givenName": username, "familyName": username},
            "emails": [{"value": f"{username}@example.com", "primary": True}],
        },
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    assert response.status_code == HTTPStatus.CREATED, (
        f"POST {response.request.url} -> {response.status_code} {response.text}"
    )
    body = response.json()
    assert body.get("userName") == username, body
    assert body.get("id"), body
    return body["id"]


def create_cf_user(ingot: Ingot, admin: CloudFoundryClient, username: str, password: str) -> str:
    """A user in the UAA and in the Cloud Controller (POST /v3/users {guid}), like `cf create-user`."""
    user_guid = create_uaa_user(ingot, admin, username, password)
    user = admin.v3.users.create(user_guid)
    assert user["guid"] == user_guid
    return user_guid


def create_role(client: CloudFoundryClient, role_type: str, user_guid: str, *, org=None, space=None):
    """POST /v3/roles through the package's role manager.

    cloudfoundry-client 1.40.4's RoleManager has list/get/remove but no public create, so this
    uses its EntityManager `_create`, which posts to /v3/roles and parses the entity the same way.
    """
    relationships = {"user": {"data": {"guid": user_guid}}}
    if org is not None:
        relationships["organization"] = {"data": {"guid": org}}
    if space is not None:
        relationships["space"] = {"data": {"guid": space}}
    role = client.v3.roles._create({"type": role_type, "relationships": relationships})
    assert role["type"] == role_type, role
    assert role["relationships"]["user"]["data"]["guid"] == user_guid, role
    return role


@pytest.fixture(scope="module")
def admin(ingot) -> CloudFoundryClient:
    return login(ingot, ingot.admin_username, ingot.admin_password)


@dataclass
class World:
    """Two orgs with a space each, and a user who is org_user of A and space_developer of A's space."""

    org_a: dict
    space_a: dict
    org_b: dict
    space_b: dict
    username: str
    password: str
    user_guid: str
    roles: list


@pytest.fixture(scope="module")
def world(ingot, admin) -> World:
    org_a = admin.v3.organizations.create(unique("org-a"), suspended=False)
    org_b = admin.v3.organizations.create(unique("org-b"), suspended=False)
    space_a = admin.v3.spaces.create(unique("space-a"), org_a["guid"])
    space_b = admin.v3.spaces.create(unique("space-b"), org_b["guid"])
    username, password = unique("dev"), "dev-" + uuid.uuid4().hex
    user_guid = create_cf_user(ingot, admin, username, password)
    roles = [
        create_role(admin, "organization_user", user_guid, org=org_a["guid"]),
        create_role(admin, "space_developer", user_guid, space=space_a["guid"]),
    ]
    return World(org_a, space_a, org_b, space_b, username, password, user_guid, roles)


@pytest.fixture(scope="module")
def developer(ingot, world) -> CloudFoundryClient:
    return login(ingot, world.username, world.password)


# --------------------------------------------------------------------------------------------
# Discovery and login
# --------------------------------------------------------------------------------------------


def test_client_discovers_uaa_and_v3_from_api_root(ingot):
    client = new_client(ingot)
    # The package reads links.login (else uaa, else self) from GET / and takes tokens from
    # <that>/oauth/token.
    assert client.info.authorization_endpoint.rstrip("/") == ingot.uaa
    assert client.service_information.token_service == f"{client.info.authorization_endpoint}/oauth/token"
    assert client.info.api_v3_url.rstrip("/") == f"{ingot.api}/v3"

    root = plain_http.get(f"{ingot.api}/", timeout=HTTP_TIMEOUT_SECONDS).json()
    links = root["links"]
    assert links["self"]["href"].rstrip("/") == ingot.api
    assert links["uaa"]["href"].rstrip("/") == ingot.uaa
    assert links["login"]["href"].rstrip("/") == ingot.uaa


def test_admin_logs_in_with_password_grant(ingot, admin):
    assert admin.refresh_token, "the password grant must return a refresh_token"
    claims = jwt_claims(access_token(admin))
    assert claims.get("user_name") == ingot.admin_username, claims
    assert claims.get("client_id") == "cf", claims
    assert "cloud_controller.admin" in claims.get("scope", []), claims
    # The token works against the Cloud Controller.
    orgs = admin.v3.organizations.list()
    assert orgs.total_results >= 0


def test_bad_password_is_rejected_cleanly(ingot):
    client = new_client(ingot)
    with pytest.raises(OAuthError) as failure:
        client.init_with_user_credentials(ingot.admin_username, "not-the-password")
    assert failure.value.status_code == HTTPStatus.UNAUTHORIZED, str(failure.value)
    assert failure.value.error == "unauthorized", str(failure.value)
    assert client.refresh_token is None


def test_unknown_user_is_rejected_cleanly(ingot):
    client = new_client(ingot)
    with pytest.raises(OAuthError) as failure:
        client.init_with_user_credentials(unique("nobody"), "whatever")
    assert failure.value.status_code == HTTPStatus.UNAUTHORIZED, str(failure.value)
    assert failure.value.error == "unauthorized", str(failure.value)


def test_wrong_client_secret_is_rejected_cleanly(ingot):
    client = new_client(ingot, client_id="cf", client_secret="not-the-secret")
    with pytest.raises(OAuthError) as failure:
        client.init_with_user_credentials(ingot.admin_username, ingot.admin_password)
    assert failure.value.status_code == HTTPStatus.UNAUTHORIZED, str(failure.value)
    assert failure.value.error in ("unauthorized", "invalid_client"), str(failure.value)


def test_api_rejects_missing_and_bogus_tokens(ingot):
    url = f"{ingot.api}/v3/organizations"
    missing = plain_http.get(url, timeout=HTTP_TIMEOUT_SECONDS)
    assert missing.status_code == HTTPStatus.UNAUTHORIZED, missing.text
    assert [(e["code"], e["title"]) for e in missing.json()["errors"]] == [(10002, "CF-NotAuthenticated")]

    bogus = plain_http.get(url, headers={"Authorization": "bearer not-a-token"}, timeout=HTTP_TIMEOUT_SECONDS)
    assert bogus.status_code == HTTPStatus.UNAUTHORIZED, bogus.text
    assert [(e["code"], e["title"]) for e in bogus.json()["errors"]] == [(1000, "CF-InvalidAuthToken")]


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------


def test_refresh_token_grant(ingot, admin):
    client = login(ingot, ingot.admin_username, ingot.admin_password)
    first_refresh_token = client.refresh_token
    client._refresh_token()  # grant_type=refresh_token, as the package does on an expired token
    assert access_token(client)
    assert jwt_claims(access_token(client)).get("user_name") == ingot.admin_username
    assert client.v3.organizations.list().total_results >= 0

    # A fresh client started from nothing but a refresh token (build_from_cf_config does this).
    other = new_client(ingot)
    other.init_with_token(first_refresh_token)
    assert jwt_claims(access_token(other)).get("user_name") == ingot.admin_username
    assert other.v3.organizations.list().total_results >= 0


def test_invalid_access_token_triggers_refresh_and_retry(ingot):
    client = login(ingot, ingot.admin_username, ingot.admin_password)
    # The package refreshes when the API answers 401 with error code 1000 CF-InvalidAuthToken.
    client._session.headers["Authorization"] = "Bearer not-a-valid-token"
    orgs = client.v3.organizations.list()
    assert orgs.total_results >= 0
    assert access_token(client) != "not-a-valid-token", "the client did not refresh its token"


def test_admin_client_credentials_grant(ingot, admin):
    org = admin.v3.organizations.create(unique("org"), suspended=False)
    client = new_client(
        ingot,
        client_id=ingot.credentials["admin_client_id"],
        client_secret=ingot.credentials["admin_client_secret"],
    )
    # grant_type=client_credentials, with client_id/client_secret both in the form and in Basic auth.
    client.init_with_client_credentials()
    claims = jwt_claims(access_token(client))
    assert claims.get("client_id") == ingot.credentials["admin_client_id"], claims
    assert "user_name" not in claims, claims
    assert client.v3.organizations.get_first(names=org["name"])["guid"] == org["guid"]


def test_bogus_refresh_token_is_rejected_cleanly(ingot):
    client = new_client(ingot)
    with pytest.raises(OAuthError) as failure:
        client.init_with_token("not-a-refresh-token")
    assert failure.value.status_code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.BAD_REQUEST), str(failure.value)
    assert failure.value.error in ("invalid_token", "invalid_grant"), str(failure.value)


# --------------------------------------------------------------------------------------------
# Orgs and spaces as admin
# --------------------------------------------------------------------------------------------


def test_admin_creates_lists_and_finds_orgs(admin):
    created = [admin.v3.organizations.create(unique("org"), suspended=False) for _ in range(3)]
    for org in created:
        assert org["guid"] and org["suspended"] is False
        assert org["created_at"] and org["updated_at"]
        assert org["links"]["self"]["href"].endswith(f"/v3/organizations/{org['guid']}")

    listed = list(admin.v3.organizations.list())
    assert {o["name"] for o in created} <= {o["name"] for o in listed}

    # per_page=1 walks pagination.next links until the end.
    paged = admin.v3.organizations.list(per_page=1)
    assert [o["guid"] for o in paged] == [o["guid"] for o in listed]
    assert paged.total_results == len(listed)

    for org in created:
        found = admin.v3.organizations.get_first(names=org["name"])
        assert found is not None and found["guid"] == org["guid"], found
        assert admin.v3.organizations.get(org["guid"])["name"] == org["name"]

    wanted = [created[0]["name"], created[2]["name"]]
    assert names(admin.v3.organizations.list(names=wanted)) == sorted(wanted)
    assert admin.v3.organizations.get_first(names=unique("no-such-org")) is None


def test_admin_updates_orgs_and_spaces_with_metadata(admin):
    team = unique("team")
    names_ = [unique("org") for _ in range(3)]
    orgs = [
        admin.v3.organizations.create(name, suspended=False, meta_labels={"team": team if i != 1 else "other"},
                                      meta_annotations={"note": f"org {i}"})
        for i, name in enumerate(names_)
    ]
    assert orgs[0]["metadata"] == {"labels": {"team": team}, "annotations": {"note": "org 0"}}
    # Filters survive pagination: the next links keep names= and label_selector=.
    assert [o["guid"] for o in admin.v3.organizations.list(names=names_, label_selector=f"team={team}",
                                                            per_page=1)] == [orgs[0]["guid"], orgs[2]["guid"]]
    assert names(admin.v3.organizations.list(names=names_[:2], per_page=1)) == sorted(names_[:2])
    assert [o["name"] for o in admin.v3.organizations.list(names=names_, order_by="-name")] == sorted(
        names_, reverse=True)

    renamed = admin.v3.organizations.update(orgs[0]["guid"], names_[0] + "-renamed", suspended=True,
                                            meta_labels={"team": None})
    assert renamed["name"] == names_[0] + "-renamed" and renamed["suspended"] is True
    assert renamed["metadata"] == {"labels": {}, "annotations": {"note": "org 0"}}
    assert admin.v3.organizations.get(orgs[0]["guid"])["name"] == names_[0] + "-renamed"

    space = admin.v3.spaces.create(unique("space"), orgs[1]["guid"])
    new_name = unique("space")
    assert admin.v3.spaces.update(space["guid"], new_name)["name"] == new_name
    assert admin.v3.spaces.get_first(names=new_name)["guid"] == space["guid"]


def test_duplicate_org_name_is_rejected(admin):
    name = unique("org")
    admin.v3.organizations.create(name, suspended=False)
    cc_error(lambda: admin.v3.organizations.create(name, suspended=False),
             HTTPStatus.UNPROCESSABLE_ENTITY, 10008, "CF-UnprocessableEntity")


def test_unknown_org_is_404(admin):
    cc_error(lambda: admin.v3.organizations.get(str(uuid.uuid4())),
             HTTPStatus.NOT_FOUND, 10010, "CF-ResourceNotFound")


def test_admin_creates_lists_and_finds_spaces(admin):
    org = admin.v3.organizations.create(unique("org"), suspended=False)
    other_org = admin.v3.organizations.create(unique("org"), suspended=False)
    spaces = [admin.v3.spaces.create(unique("space"), org["guid"]) for _ in range(2)]
    other_space = admin.v3.spaces.create(unique("space"), other_org["guid"])
    for space in spaces:
        assert space["guid"]
        assert space["relationships"]["organization"]["data"]["guid"] == org["guid"]
        # The package turns links.organization into a method that GETs the org.
        assert space.organization()["guid"] == org["guid"]

    in_org = admin.v3.spaces.list(organization_guids=org["guid"])
    assert names(in_org) == names(spaces)
    assert other_space["name"] in names(admin.v3.spaces.list())

    for space in spaces:
        found = admin.v3.spaces.get_first(names=space["name"], organization_guids=org["guid"])
        assert found is not None and found["guid"] == space["guid"], found
        assert admin.v3.spaces.get(space["guid"])["name"] == space["name"]
    assert admin.v3.spaces.get_first(names=other_space["name"], organization_guids=org["guid"]) is None

    # Space names are unique within an org, not across orgs.
    admin.v3.spaces.create(spaces[0]["name"], other_org["guid"])
    cc_error(lambda: admin.v3.spaces.create(spaces[0]["name"], org["guid"]),
             HTTPStatus.UNPROCESSABLE_ENTITY, 10008, "CF-UnprocessableEntity")


def test_admin_deletes_space_and_org(admin):
    org = admin.v3.organizations.create(unique("org"), suspended=False)
    space = admin.v3.spaces.create(unique("space"), org["guid"])
    admin.v3.spaces.remove(space["guid"])
    # DELETE answers 202 with a job in Location; the package polls /v3/jobs/:guid.
    admin.v3.organizations.remove(org["guid"], asynchronous=False)
    assert status_of(lambda: admin.v3.spaces.get(space["guid"])) == HTTPStatus.NOT_FOUND
    assert status_of(lambda: admin.v3.organizations.get(org["guid"])) == HTTPStatus.NOT_FOUND


# --------------------------------------------------------------------------------------------
# Users, roles and what a space developer may see and do
# --------------------------------------------------------------------------------------------


def test_users_and_roles_are_visible_to_admin(admin, world):
    user = admin.v3.users.get(world.user_guid)
    assert user["guid"] == world.user_guid
    assert user["username"] == world.username
    assert user["origin"] == "uaa"

    roles = list(admin.v3.roles.list(user_guids=world.user_guid))
    assert sorted(r["type"] for r in roles) == ["organization_user", "space_developer"]
    assert {r["guid"] for r in roles} == {r["guid"] for r in world.roles}
    org_user = admin.v3.roles.get_first(types="organization_user", organization_guids=world.org_a["guid"])
    assert org_user is not None and org_user["relationships"]["user"]["data"]["guid"] == world.user_guid


def test_space_role_requires_org_membership(ingot, admin, world):
    username = unique("outsider")
    user_guid = create_cf_user(ingot, admin, username, "pw-" + uuid.uuid4().hex)
    cc_error(lambda: create_role(admin, "space_developer", user_guid, space=world.space_b["guid"]),
             HTTPStatus.UNPROCESSABLE_ENTITY, 10008, "CF-UnprocessableEntity")


def test_developer_logs_in_with_password_grant(developer, world):
    assert developer.refresh_token
    claims = jwt_claims(access_token(developer))
    assert claims.get("user_name") == world.username
    assert claims.get("user_id") == world.user_guid
    assert "cloud_controller.admin" not in claims.get("scope", [])


def test_developer_sees_own_org_and_space_only(developer, world):
    assert [o["guid"] for o in developer.v3.organizations.list()] == [world.org_a["guid"]]
    assert [s["guid"] for s in developer.v3.spaces.list()] == [world.space_a["guid"]]
    assert developer.v3.organizations.get(world.org_a["guid"])["name"] == world.org_a["name"]
    assert developer.v3.spaces.get(world.space_a["guid"])["name"] == world.space_a["name"]
    found = developer.v3.organizations.get_first(names=world.org_a["name"])
    assert found is not None and found["guid"] == world.org_a["guid"]


def test_developer_cannot_see_other_org(developer, world):
    assert developer.v3.organizations.get_first(names=world.org_b["name"]) is None
    assert developer.v3.spaces.get_first(names=world.space_b["name"]) is None
    assert world.org_b["name"] not in names(developer.v3.organizations.list())
    cc_error(lambda: developer.v3.organizations.get(world.org_b["guid"]),
             HTTPStatus.NOT_FOUND, 10010, "CF-ResourceNotFound")
    cc_error(lambda: developer.v3.spaces.get(world.space_b["guid"]),
             HTTPStatus.NOT_FOUND, 10010, "CF-ResourceNotFound")


def test_developer_sees_own_roles_only(developer, world):
    roles = list(developer.v3.roles.list())
    assert {r["guid"] for r in roles} >= {r["guid"] for r in world.roles}
    for role in roles:
        scope = role["relationships"]
        org_guid = (scope.get("organization", {}).get("data") or {}).get("guid")
        space_guid = (scope.get("space", {}).get("data") or {}).get("guid")
        assert org_guid != world.org_b["guid"] and space_guid != world.space_b["guid"], role


def test_developer_cannot_create_space_or_org(developer, world):
    cc_error(lambda: developer.v3.spaces.create(unique("space"), world.org_a["guid"]),
             HTTPStatus.FORBIDDEN, 10003, "CF-NotAuthorized")
    # An org they cannot see must not be revealed: 422 (as CC does), 404 or 403, never success.
    assert status_of(lambda: developer.v3.spaces.create(unique("space"), world.org_b["guid"])) in (
        HTTPStatus.UNPROCESSABLE_ENTITY, HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN)
    cc_error(lambda: developer.v3.organizations.create(unique("org"), suspended=False),
             HTTPStatus.FORBIDDEN, 10003, "CF-NotAuthorized")


def test_developer_cannot_assign_roles(developer, world):
    assert status_of(lambda: create_role(developer, "space_developer", world.user_guid,
                                         space=world.space_b["guid"])) in (
        HTTPStatus.FORBIDDEN, HTTPStatus.UNPROCESSABLE_ENTITY)
    assert list(developer.v3.roles.list(space_guids=world.space_b["guid"])) == []


def test_developer_token_refresh(ingot, world):
    client = login(ingot, world.username, world.password)
    client._refresh_token()
    assert jwt_claims(access_token(client)).get("user_name") == world.username
    assert [o["guid"] for o in client.v3.organizations.list()] == [world.org_a["guid"]]


def test_removing_roles_revokes_access(ingot, admin):
    org = admin.v3.organizations.create(unique("org"), suspended=False)
    space = admin.v3.spaces.create(unique("space"), org["guid"])
    username, password = unique("temp"), "pw-" + uuid.uuid4().hex
    user_guid = create_cf_user(ingot, admin, username, password)
    org_role = create_role(admin, "organization_user", user_guid, org=org["guid"])
    space_role = create_role(admin, "space_developer", user_guid, space=space["guid"])

    user = login(ingot, username, password)
    assert [s["guid"] for s in user.v3.spaces.list()] == [space["guid"]]

    admin.v3.roles.remove(space_role["guid"], asynchronous=False)
    assert list(user.v3.spaces.list()) == []
    cc_error(lambda: user.v3.spaces.get(space["guid"]), HTTPStatus.NOT_FOUND, 10010, "CF-ResourceNotFound")
    assert [o["guid"] for o in user.v3.organizations.list()] == [org["guid"]]

    admin.v3.roles.remove(org_role["guid"], asynchronous=False)
    assert list(user.v3.organizations.list()) == []
    cc_error(lambda: user.v3.organizations.get(org["guid"]), HTTPStatus.NOT_FOUND, 10010, "CF-ResourceNotFound")


# --------------------------------------------------------------------------------------------
# The v2 API, where the API root advertises it (the package builds `client.v2` from that link)
# --------------------------------------------------------------------------------------------


def v2_guids(resources) -> list:
    return sorted(r["metadata"]["guid"] for r in resources)


def test_v2_orgs_and_spaces_agree_with_v3(admin, developer, world):
    if admin._v2 is None:
        pytest.skip("the API root advertises no cloud_controller_v2")
    # Filters are sent as q=name:<name> and q=organization_guid:<guid>.
    org = admin.v2.organizations.get_first(name=world.org_a["name"])
    assert org is not None and org["metadata"]["guid"] == world.org_a["guid"], org
    assert org["entity"]["name"] == world.org_a["name"]
    assert v2_guids(admin.v2.spaces.list(organization_guid=world.org_a["guid"])) == [world.space_a["guid"]]
    # entity.spaces_url becomes org.spaces(), a list of the org's spaces.
    assert v2_guids(org.spaces()) == [world.space_a["guid"]]
    space = admin.v2.spaces.get(world.space_a["guid"])
    assert space["entity"]["name"] == world.space_a["name"]
    assert space["entity"]["organization_guid"] == world.org_a["guid"]

    assert v2_guids(developer.v2.organizations.list()) == [world.org_a["guid"]]
    assert v2_guids(developer.v2.spaces.list()) == [world.space_a["guid"]]
    assert developer.v2.organizations.get_first(name=world.org_b["name"]) is None
    # v2 answers 403 (CF-NotAuthorized) or 404 for an org the user cannot read; never the org.
    assert status_of(lambda: developer.v2.organizations.get(world.org_b["guid"])) in (
        HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
    assert status_of(lambda: developer.v2.spaces.get(world.space_b["guid"])) in (
        HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)


# --------------------------------------------------------------------------------------------
# Scenarios with their own server: token expiry, and a restart
# --------------------------------------------------------------------------------------------


def test_expired_access_token_is_refreshed(scratch_dir):
    config = scratch_dir / "ingot.toml"
    config.write_text("access_token_validity_seconds = 2\n")
    data_dir = scratch_dir / "data"
    data_dir.mkdir()
    server = start_ingot(data_dir, extra_args=("--config", str(config)))
    try:
        client = login(server, server.admin_username, server.admin_password)
        first_token = access_token(client)
        claims = jwt_claims(first_token)
        assert claims["exp"] - claims["iat"] <= 2, claims

        url = f"{server.api}/v3/organizations"
        deadline = time.monotonic() + 30
        while True:
            expired = plain_http.get(url, headers={"Authorization": f"bearer {first_token}"},
                                   timeout=HTTP_TIMEOUT_SECONDS)
            if expired.status_code != HTTPStatus.OK or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert expired.status_code == HTTPStatus.UNAUTHORIZED, expired.text
        assert [(e["code"], e["title"]) for e in expired.json()["errors"]] == [(1000, "CF-InvalidAuthToken")]

        # The package sees that 401, refreshes with its refresh token, and retries.
        assert client.v3.organizations.list().total_results == 0
        assert access_token(client) != first_token
    finally:
        stop_ingot(server)


def test_state_and_tokens_survive_restart(scratch_dir):
    first = start_ingot(scratch_dir)
    try:
        admin = login(first, first.admin_username, first.admin_password)
        org = admin.v3.organizations.create(unique("org"), suspended=False)
        space = admin.v3.spaces.create(unique("space"), org["guid"])
        username, password = unique("dev"), "pw-" + uuid.uuid4().hex
        user_guid = create_cf_user(first, admin, username, password)
        create_role(admin, "organization_user", user_guid, org=org["guid"])
        create_role(admin, "space_developer", user_guid, space=space["guid"])
        old_access_token, old_refresh_token = access_token(admin), admin.refresh_token
    finally:
        stop_ingot(first)
    assert first.process.returncode == 0, (
        f"ingot exited with {first.process.returncode} on SIGTERM:\n{first.captured_output()}")

    # Same addresses, so the token issuer and the URLs in the client stay the same.
    second = start_ingot(scratch_dir, api_addr=first.api.removeprefix("http://"),
                         uaa_addr=first.uaa.removeprefix("http://"))
    try:
        assert second.credentials == first.credentials
        still_valid = plain_http.get(f"{second.api}/v3/organizations/{org['guid']}",
                                   headers={"Authorization": f"bearer {old_access_token}"},
                                   timeout=HTTP_TIMEOUT_SECONDS)
        assert still_valid.status_code == HTTPStatus.OK, still_valid.text

        admin = new_client(second)
        admin.init_with_token(old_refresh_token)
        assert admin.v3.spaces.get(space["guid"])["name"] == space["name"]

        developer = login(second, username, password)
        assert [o["guid"] for o in developer.v3.organizations.list()] == [org["guid"]]
        assert [s["guid"] for s in developer.v3.spaces.list()] == [space["guid"]]
    finally:
        stop_ingot(second)
