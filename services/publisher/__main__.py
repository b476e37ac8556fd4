import uvicorn

from services.publisher.app import create_app
from services.publisher.settings import PublisherSettings

settings = PublisherSettings()
uvicorn.run(
    create_app(settings),
    host=settings.host,
    port=settings.port,
    log_config=None,
    # Access lines are silenced anyway (shared/logs.py); this skips building them.
    access_log=False,
)
