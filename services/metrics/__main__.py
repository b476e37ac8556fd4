from services.metrics.app import create_app
from services.metrics.settings import MetricsSettings
from shared.entry import serve

serve(MetricsSettings, create_app)
