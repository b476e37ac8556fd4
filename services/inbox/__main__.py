import uvicorn

from services.inbox.app import create_app
from services.inbox.settings import InboxSettings

settings = InboxSettings()
uvicorn.run(
    create_app(settings),
    host=settings.host,
    port=settings.port,
    log_config=None,
    # Access lines are silenced anyway (shared/logs.py); this skips building them.
    access_log=False,
)
