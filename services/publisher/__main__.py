from services.publisher.app import create_app
from services.publisher.settings import PublisherSettings
from shared.entry import serve

serve(PublisherSettings, create_app)
