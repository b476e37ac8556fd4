from services.inbox.app import create_app
from services.inbox.settings import InboxSettings
from shared.entry import serve

serve(InboxSettings, create_app)
