"""Drive hilink-sim with huawei-lte-api, an independent client written against real devices.

Usage: check_sim.py --e3372h URL --e303 URL --e3372h-320 URL --username U --password P

Each URL is a running simulator of that profile with short timings (sends finishing within
a second, delivery reports within two, USSD answers within a second) and its default USSD
table. The control API under /sim/ is used to inject inbound messages and to read the
ledger and the USSD codes the network got. Exits non-zero on the first failed check.
"""

from __future__ import annotations

import argparse
import sys
import time

import requests
from huawei_lte_api.Client import Client
from huawei_lte_api.Connection import Connection
from huawei_lte_api.enums.sms import BoxTypeEnum
from huawei_lte_api.exceptions import (
    LoginErrorUsernamePasswordWrongException,
    ResponseErrorException,
    ResponseErrorLoginRequiredException,
)

# The simulator's default USSD table (hilink::sim::UssdService::operator()).
USSD_BALANCE = ("*100#", "Your balance is 12.34 EUR. Valid until 31.12.2026.")
USSD_BUSY = "*101#"
USSD_NO_ANSWER = "*102#"


def control(url: str, path: str, body: dict | None = None):
    if body is None:
        reply = requests.get(url + "sim/" + path, timeout=5)
    else:
        reply = requests.post(url + "sim/" + path, json=body, timeout=5)
    reply.raise_for_status()
    return reply.json()


def wait_sent(client: Client) -> dict:
    for _ in range(200):
        status = client.sms.send_status()
        if not status["Phone"]:
            return status
        time.sleep(0.02)
    raise AssertionError("send-status never finished")


def messages(client: Client, box: BoxTypeEnum) -> list[dict]:
    listed = client.sms.get_sms_list(page=1, box_type=box, read_count=50)
    found = (listed.get("Messages") or {}).get("Message") or []
    assert int(listed["Count"]) == len(found), listed
    return found


def error_code(call) -> int:
    """The device error code a call raises."""
    try:
        result = call()
    except ResponseErrorException as error:
        return int(error.code)
    raise AssertionError(f"expected a device error, got {result!r}")


def ussd_answer(client: Client) -> dict:
    """Polls ussd/get while the device says 111019 (no answer from the network yet)."""
    for _ in range(200):
        try:
            return client.ussd.get()
        except ResponseErrorException as error:
            if int(error.code) != 111019:
                raise
        time.sleep(0.02)
    raise AssertionError("ussd/get kept saying 111019")


def check_ussd(connection: Connection, url: str) -> None:
    """USSD through huawei-lte-api's ussd.send / ussd.get / ussd.status."""
    client = Client(connection)
    assert client.ussd.status()["result"] == "0"
    code, text = USSD_BALANCE
    assert client.ussd.send(code) == "OK"
    answer = ussd_answer(client)
    assert answer["content"] == text, answer
    assert client.ussd.status()["result"] == "0"

    # A busy network, then a malformed code the device refuses.
    assert client.ussd.send(USSD_BUSY) == "OK"
    assert error_code(lambda: ussd_answer(client)) == 111013
    assert error_code(lambda: client.ussd.send("*100")) == 100006

    # A code the network never answers: the dialog stays open and blocks another code
    # until it is released (PY has no ussd.release; its session's get reaches it).
    assert client.ussd.send(USSD_NO_ANSWER) == "OK"
    time.sleep(0.2)
    assert error_code(client.ussd.get) == 111019
    assert client.ussd.status()["result"] == "1"
    assert error_code(lambda: client.ussd.send(code)) == 111013
    assert connection.get("ussd/release") == "OK"
    assert client.ussd.status()["result"] == "0"

    forwarded = [r["code"] for r in control(url, "ussd")["requests"]]
    assert forwarded == [code, USSD_BUSY, USSD_NO_ANSWER], forwarded


def check_common(client: Client, url: str, label: str) -> None:
    """The calls the issue names, against one simulator without login."""
    status = client.monitoring.status()
    assert status["ConnectionStatus"] == "901", status
    notifications = client.monitoring.check_notifications()
    assert notifications["SmsStorageFull"] == "0", notifications
    plmn = client.net.current_plmn()
    assert plmn["Numeric"] == "26201", plmn
    signal = client.device.signal()
    assert signal["rssi"], signal
    info = client.device.information()
    assert info["DeviceName"], info

    # Delivery reports on (PY sends <UseSReport>true</UseSReport>).
    assert client.sms.set_config(sca="", use_s_report=True) == "OK"
    assert client.sms.config()["UseSReport"] == "1"

    text = "Grüße & <tags> from " + label
    assert client.sms.send_sms(["+4917011111"], text) == "OK"
    status = wait_sent(client)
    assert status["SucPhone"] == "+4917011111", status
    assert status["FailPhone"] is None, status
    ledger = control(url, "ledger")
    assert [(e["to"], e["text"]) for e in ledger] == [("+4917011111", text)], ledger

    sent = messages(client, BoxTypeEnum.LOCAL_SENT)
    assert [m["Content"] for m in sent] == [text], sent
    count = client.sms.sms_count()
    assert count["LocalOutbox"] == "1" and count["LocalMax"] == "500", count

    # A second send right away: PY re-uses its first token here.
    assert client.sms.send_sms(["+4917022222"], "second " + label) == "OK"
    wait_sent(client)
    assert len(control(url, "ledger")) == 2

    # Inbound: one plain, one long (SmsType 2), both read via the client.
    control(url, "inbound", {"from": "+4917033333", "text": "hello " + label})
    control(url, "inbound", {"from": "+4917044444", "text": "L" * 200})
    time.sleep(1.5)  # delivery reports arrive meanwhile
    inbox = messages(client, BoxTypeEnum.LOCAL_INBOX)
    by_type: dict[str, list[dict]] = {}
    for message in inbox:
        by_type.setdefault(message["SmsType"], []).append(message)
    assert len(by_type.get("1", [])) == 1, inbox
    assert len(by_type.get("2", [])) == 1 and by_type["2"][0]["Content"] == "L" * 200, inbox
    assert sorted(m["Phone"] for m in by_type.get("7", [])) == ["+4917011111", "+4917022222"], inbox
    assert client.monitoring.check_notifications()["UnreadMessage"] == "4"

    plain = by_type["1"][0]
    assert plain["Smstat"] == "0"
    assert client.sms.set_read(int(plain["Index"])) == "OK"
    assert client.sms.sms_count()["LocalUnread"] == "3"
    assert client.sms.delete_sms(int(plain["Index"])) == "OK"
    assert client.sms.sms_count()["LocalInbox"] == "3"
    remaining = [m["Index"] for m in messages(client, BoxTypeEnum.LOCAL_INBOX)]
    assert plain["Index"] not in remaining

    # Paging until Count is 0 terminates (get_messages relies on it). PY holds back
    # multipart messages younger than 10 s, so only the two reports come out.
    listed = list(client.sms.get_messages(box_type=BoxTypeEnum.LOCAL_INBOX, read_count=1))
    assert sorted(m.type.value for m in listed) == [7, 7], listed


def check_e3372h(url: str) -> None:
    control(url, "reset", {})
    with Connection(url) as connection:
        check_common(Client(connection), url, "e3372h")
        check_ussd(connection, url)
    # A session that expires is rebuilt by PY itself (125002 → reload and retry once).
    with Connection(url) as connection:
        client = Client(connection)
        control(url, "expire-sessions", {})
        assert client.sms.sms_count()["LocalMax"] == "500"


def check_e303(url: str) -> None:
    control(url, "reset", {})
    with Connection(url) as connection:
        # No token endpoint: PY runs without CSRF tokens.
        assert connection.request_verification_tokens == []
        check_common(Client(connection), url, "e303")
        check_ussd(connection, url)


def check_e3372h_320(url: str, username: str, password: str) -> None:
    control(url, "reset", {})
    with Connection(url) as connection:
        client = Client(connection)
        assert client.user.hilink_login()["hilink_login"] == "1"
        try:
            client.sms.sms_count()
        except ResponseErrorLoginRequiredException:
            pass
        else:
            raise AssertionError("sms-count before login must give 100003")
        assert error_code(lambda: client.ussd.send(USSD_BALANCE[0])) == 100003

    try:
        Connection(url, username=username, password=password + "x")
    except LoginErrorUsernamePasswordWrongException:
        pass
    else:
        raise AssertionError("a wrong password must be refused")

    # password_type 4 login, then the same calls as on the other profiles.
    with Connection(url, username=username, password=password) as connection:
        client = Client(connection)
        state = client.user.state_login()
        assert state["State"] == "0" and state["password_type"] == "4", state
        info = client.device.information()
        assert info["SoftwareVersion"] == "10.0.3.1(H192SP1C983)", info
        check_common(client, url, "e3372h-320")
        check_ussd(connection, url)
    # The connection logged out on close.
    with Connection(url) as connection:
        assert Client(connection).user.state_login()["State"] == "-1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--e3372h", required=True)
    parser.add_argument("--e303", required=True)
    parser.add_argument("--e3372h-320", dest="e320", required=True)
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    args = parser.parse_args()
    checks = [
        ("e3372h", lambda: check_e3372h(args.e3372h)),
        ("e303", lambda: check_e303(args.e303)),
        ("e3372h-320", lambda: check_e3372h_320(args.e320, args.username, args.password)),
    ]
    failed = 0
    for name, check in checks:
        try:
            check()
        except Exception as error:  # report every profile, then fail
            failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}", file=sys.stderr)
            import traceback

            traceback.print_exc()
        else:
            print(f"ok   {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
