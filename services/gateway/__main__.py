import uvicorn

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

settings = GatewaySettings()
uvicorn.run(
    create_app(settings),
    host=settings.host,
    port=settings.port,
    log_config=None,
    # Access lines are silenced anyway (shared/logs.py); this skips building them.
    access_log=False,
)
