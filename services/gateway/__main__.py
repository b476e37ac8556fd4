from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.entry import serve

serve(GatewaySettings, create_app)
