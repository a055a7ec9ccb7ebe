#!/usr/bin/python3
"""Seeds or downloads one torrent with python3-libtorrent until SIGTERM or SIGINT.

The real-client tests start it (LibtorrentClient.cs). It listens on and announces from one loopback
address, writes libtorrent's tracker, status and error alerts to a log, and on the signal pauses the
torrent, which announces event=stopped, then exits once the tracker has answered (or after a few
seconds). Debian installs the binding for /usr/bin/python3 only.
"""
import argparse
import signal
import time

import libtorrent

STOP_ANNOUNCE_TIMEOUT_SECONDS = 5
STATUS_EVERY_SECONDS = 5


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torrent", required=True)
    parser.add_argument("--save-path", required=True)
    parser.add_argument("--address", required=True, help="the loopback address to listen on and announce from")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    return parser.parse_args()


def create_session(address, port):
    return libtorrent.session({
        "listen_interfaces": f"{address}:{port}",
        "outgoing_interfaces": address,
        # Only the tracker introduces peers.
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # TCP only, as the other clients in the tests.
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        # libtorrent 2.0 refuses to announce to a loopback tracker whose path is not exactly /announce,
        # and the tracker under test is on 127.0.0.1 at /PASSKEY/announce.
        "ssrf_mitigation": False,
        "alert_mask": libtorrent.alert_category.error
        | libtorrent.alert_category.tracker
        | libtorrent.alert_category.status,
    })


def write_alerts(session, log):
    """Logs the pending alerts and returns them."""
    alerts = session.pop_alerts()
    for alert in alerts:
        log.write(f"{time.time():.3f} {alert.message()}\n")
    return alerts


def main():
    arguments = parse_arguments()
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop_requested.append(True))

    with open(arguments.log, "a", buffering=1) as log:
        session = create_session(arguments.address, arguments.port)
        torrent = session.add_torrent({
            "ti": libtorrent.torrent_info(arguments.torrent),
            "save_path": arguments.save_path,
        })

        last_status = 0.0
        while not stop_requested:
            session.wait_for_alert(250)
            write_alerts(session, log)
            if time.monotonic() - last_status >= STATUS_EVERY_SECONDS:
                status = torrent.status()
                log.write(f"{time.time():.3f} status {status.state} progress={status.progress:.3f} "
                          f"peers={status.num_peers} uploaded={status.total_upload} "
                          f"downloaded={status.total_download}\n")
                last_status = time.monotonic()

        torrent.pause()
        deadline = time.monotonic() + STOP_ANNOUNCE_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            session.wait_for_alert(250)
            answers = (libtorrent.tracker_reply_alert, libtorrent.tracker_error_alert)
            if any(isinstance(alert, answers) for alert in write_alerts(session, log)):
                break
        log.write(f"{time.time():.3f} exit\n")


if __name__ == "__main__":
    main()
