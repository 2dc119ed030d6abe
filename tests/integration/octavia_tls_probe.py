"""Octavia's own amphora TLS code, driven from the outside; run with the devcloud virtualenv's python.

    octavia_tls_probe.py sign --amphora-id ID --out server.pem --config-file octavia.conf ...
        The controller worker's GenerateServerPEMTask signs the amphora's server certificate with
        [certificates] ca_certificate/ca_private_key/ca_private_key_passphrase; the result is
        decrypted with server_certs_key_passphrase as CertComputeCreate does before it puts it on
        the amphora's config drive as /etc/octavia/certs/server.pem.
    octavia_tls_probe.py agent --config-file amphora-agent.conf
        The amphora agent's API server (its Flask app behind gunicorn with the agent's TLS
        options), serving until terminated.
    octavia_tls_probe.py get-info --amphora ID@PORT ... --out results.json --config-file octavia.conf ...
        The controller's amphora driver (HaproxyAmphoraLoadBalancerDriver.get_info: GET / for the
        API version, then GET /1.0/info) against amphorae on 127.0.0.1; writes a JSON list with one
        result per amphora: {"info": {...}} or {"error": exception class, "detail": message}.

Options other than the probe's own go to oslo.config, as on the command line of an Octavia service.
"""

import argparse
import json
import multiprocessing
import ssl

from oslo_config import cfg

from octavia.common import config

CONF = cfg.CONF


def sign(amphora_id: str, out: str) -> None:
    from octavia.common import utils
    from octavia.controller.worker.v2.tasks import cert_task

    encrypted = cert_task.GenerateServerPEMTask().execute(amphora_id)
    server_pem = utils.get_server_certs_key_passphrases_fernet().decrypt(encrypted.encode("utf-8"))
    with open(out, "wb") as pem_file:
        pem_file.write(server_pem)


def agent() -> None:
    """octavia.cmd.agent.main without what needs root or an amphora image.

    Left out: the health sender process (heartbeats are not under test; the Server gets a plain
    queue where the agent shares a Manager queue with that process), the log file under
    /var/log and the syslog socket (logs go to the console). The TLS options are the agent's.
    """
    from octavia.amphorae.backends.agent.api_server import server
    from octavia.cmd.agent import AmphoraAgent
    from octavia.common import utils

    server_instance = server.Server(multiprocessing.Queue())
    proto = CONF.amphora_agent.agent_tls_protocol.replace(".", "_")
    options = {
        "bind": utils.ip_port_str(CONF.haproxy_amphora.bind_host, CONF.haproxy_amphora.bind_port),
        "workers": 1,
        "timeout": CONF.amphora_agent.agent_request_read_timeout,
        "certfile": CONF.amphora_agent.agent_server_cert,
        "ca_certs": CONF.amphora_agent.agent_server_ca,
        "cert_reqs": ssl.CERT_REQUIRED,
        "ssl_version": getattr(ssl, f"PROTOCOL_{proto}"),
        "preload_app": True,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
    }
    AmphoraAgent(server_instance.app, options).run()


def get_info(targets: list[str], out: str) -> None:
    from octavia.amphorae.drivers.haproxy import rest_api_driver
    from octavia.common import data_models

    results = []
    for target in targets:
        amphora_id, port = target.rsplit("@", 1)
        # Amphorae share one bind_port in a cloud; here each listens on a port of its own.
        CONF.set_override("bind_port", int(port), group="haproxy_amphora")
        # A driver (and so a TLS session) per amphora: a kept-alive connection would skip the
        # handshake, and with it the checks under test.
        driver = rest_api_driver.HaproxyAmphoraLoadBalancerDriver()
        amphora = data_models.Amphora(id=amphora_id, lb_network_ip="127.0.0.1")
        try:
            # raise_retry_exception: report the first connection error with its cause instead of
            # retrying and ending in a bare TimeOutException.
            results.append({"info": driver.get_info(amphora, raise_retry_exception=True)})
        except Exception as error:  # the result is the point: the test asserts on it
            results.append({"error": type(error).__name__, "detail": str(error)})
    with open(out, "w", encoding="utf-8") as results_file:
        json.dump(results, results_file)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("sign", "agent", "get-info"))
    parser.add_argument("--amphora-id")
    parser.add_argument("--out")
    parser.add_argument("--amphora", action="append", default=[], help="ID@PORT")
    args, oslo_args = parser.parse_known_args()
    config.init(oslo_args)
    config.setup_logging(CONF)
    if args.command == "sign":
        sign(args.amphora_id, args.out)
    elif args.command == "agent":
        agent()
    else:
        get_info(args.amphora, args.out)


if __name__ == "__main__":
    main()
