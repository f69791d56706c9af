"""Runs the gateway: `python -m gateway`."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.config import GatewaySettings
from services.kit.config import load_or_exit, setting
from services.kit.logs import configure_logging


def main() -> None:
    configure_logging("gateway", setting("PLIXA_LOG_LEVEL", "INFO"))
    settings = load_or_exit(GatewaySettings.load, "gateway")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )


if __name__ == "__main__":
    main()
